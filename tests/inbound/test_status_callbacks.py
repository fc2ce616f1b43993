"""The whole round trip of a text, on SQLite and PostgreSQL: the dispatcher sends through the
official SDK to a fake Twilio, asking for callbacks at the URL it was configured with; then,
playing Twilio, the test posts signed status callbacks to that URL on the real app, out of
order and twice, and the outbox ends where the carrier said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from starlette.testclient import TestClient
from support.fake_twilio import FakeTwilio
from support.seeding import aftercares, seed_treated
from support.webhooks import PUBLIC_URL, TOKEN, RecordingGateway, post_signed

from followup.config import load_settings
from followup.gateways.twilio import STATUS_CALLBACK_PATH, TwilioGateway
from followup.outbound.dispatcher import Dispatcher
from followup.runtime import Runtime
from followup.texts.catalogue import Catalogue
from followup.web.app import create_app

PHONES = ["+12015550301", "+12015550302", "+12015550303"]


def test_sent_texts_follow_their_signed_status_callbacks(env):
    rt = Runtime(
        load_settings({**env, "TWILIO_AUTH_TOKEN": TOKEN, "FOLLOWUP_PUBLIC_URL": PUBLIC_URL})
    )
    # a weekday morning in New York, inside the clinic's send window whatever the wall clock
    done = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    seed_treated(rt.sessions, PHONES, done)
    try:
        with FakeTwilio() as fake:
            gateway = TwilioGateway(
                fake.account_sid,
                fake.auth_token,
                api_url=fake.url,
                timeout=5,
                status_callback=PUBLIC_URL + STATUS_CALLBACK_PATH,
            )
            catalogue = Catalogue.load(rt.settings.messages_dir)
            Dispatcher(rt.sessions, gateway, catalogue, worker="loop").run_once(
                done + timedelta(hours=1)
            )
            callbacks = fake.status_callbacks
        assert len(callbacks) == 3
        assert set(callbacks.values()) == {PUBLIC_URL + STATUS_CALLBACK_PATH}
        first, second, third = sorted(callbacks)
        plan = {
            first: ["delivered", "sent", "delivered"],
            second: ["sent", "undelivered"],
            third: ["queued", "sent"],
        }
        with TestClient(create_app(rt, gateway=RecordingGateway())) as client:
            for sid, statuses in plan.items():
                path = urlsplit(callbacks[sid]).path
                for status in statuses:
                    params = {
                        "MessageSid": sid,
                        "MessageStatus": status,
                        "AccountSid": fake.account_sid,
                    }
                    if status == "undelivered":
                        params["ErrorCode"] = "30003"
                    assert post_signed(client, path, params).status_code == 200
        final = {m.provider_sid: (m.status, m.error_code) for m in aftercares(rt.sessions)}
        assert final == {
            first: ("delivered", None),
            second: ("undelivered", "30003"),
            third: ("sent", None),
        }
    finally:
        rt.close()
