"""The Twilio gateway, the dispatcher and the CLI against Prism serving Twilio's own OpenAPI spec.

Prism validates every request against the spec (HTTP 422 when it does not conform), so these
tests show that what the official SDK sends on our behalf (To, From or MessagingServiceSid,
Body, StatusCallback; the list filters of ``find_sent``) is a request Twilio documents, and that
the error answers Twilio documents (429, 500, 503, 401, 404, forced with ``Prefer: code=NNN``)
are classified as intended. What Prism cannot do (state, 21211/21610, slowness, crashes) is
covered by ``fake_twilio`` in test_fake_twilio.py.

Static mode answers every create with the same example: SID ``SM`` + 32 ``a``, status queued.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.prism import PrismClient, running_prism
from support.processes import FOLLOWUP, clean_env
from support.seeding import aftercares, seed_treated

from followup.gateways.base import OutgoingSms
from followup.gateways.twilio import TwilioGateway
from followup.outbound.dispatcher import Dispatcher
from followup.outbound.planner import plan_pending
from followup.store.engine import make_engine, make_sessionmaker
from followup.store.models import OutboundMessage
from followup.texts.catalogue import Catalogue

pytestmark = pytest.mark.slow

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SERVICE_SID = "MG" + "fedcba9876543210" * 2
CLINIC_NUMBER = "+15005550006"
PATIENT = "+15005550001"
CALLBACK = "https://clinic.example/twilio/status"
SMS_SID = re.compile(r"^SM[0-9a-f]{32}$")
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
T0 = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # 10:00 in New York
DUE = T0 + timedelta(minutes=30)  # the aftercare text of a session completed at T0


@pytest.fixture(scope="session")
def prism_url() -> Iterator[str]:
    """One Prism for the session (it takes a few seconds to start)."""
    with running_prism() as url:
        yield url


def gateway(client: PrismClient, status_callback: str | None = None) -> TwilioGateway:
    return TwilioGateway(ACCOUNT_SID, "token", status_callback=status_callback, http_client=client)


def sms(body: str = "Your aftercare notes", **sender: str) -> OutgoingSms:
    sender = sender or {"from_number": CLINIC_NUMBER}
    return OutgoingSms(to=PATIENT, body=body, message_id=1, **sender)


# -- the gateway alone ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "callback"),
    [
        ({"from_number": CLINIC_NUMBER}, None),
        ({"from_number": CLINIC_NUMBER}, CALLBACK),
        ({"messaging_service_sid": SERVICE_SID}, None),
        ({"messaging_service_sid": SERVICE_SID}, CALLBACK),
    ],
    ids=["from", "from+callback", "service", "service+callback"],
)
def test_a_send_is_a_request_twilios_spec_accepts(prism_url, sender, callback):
    client = PrismClient(prism_url)
    result = gateway(client, callback).send(sms(**sender))

    assert result.ok, result.error
    assert SMS_SID.match(result.provider_sid)
    assert result.provider_status == "queued"
    [call] = client.calls
    assert (call.method, call.path, call.status) == ("POST", MESSAGES_PATH, 201)
    expected = {"To": PATIENT, "Body": "Your aftercare notes"}
    expected.update(
        {"From": CLINIC_NUMBER} if "from_number" in sender else {"MessagingServiceSid": SERVICE_SID}
    )
    if callback:
        expected["StatusCallback"] = callback
    assert call.data == expected  # exactly one sender named, nothing else sent


def test_prism_does_refuse_an_invalid_request(prism_url):
    """The control: Prism really validates, so the 201s above mean something."""
    client = PrismClient(prism_url)
    result = gateway(client, "not a url").send(sms(messaging_service_sid="MG123"))

    assert client.statuses() == [422]
    body = json.loads(client.calls[0].text)
    assert {tuple(v["location"]) for v in body["validation"]} == {
        ("body", "MessagingServiceSid"),
        ("body", "StatusCallback"),
    }
    assert not result.ok
    assert (result.error.code, result.error.permanent) == ("422", True)


@pytest.mark.parametrize(
    ("status", "code", "permanent", "pause"),
    [
        (429, "20429", False, True),
        (500, "20500", False, False),
        (503, "20503", False, False),
        (401, "20003", False, True),  # credentials refused: the texts wait, the batch pauses
        (404, "20404", True, False),
    ],
)
def test_twilios_documented_errors_are_classified(prism_url, status, code, permanent, pause):
    client = PrismClient(prism_url, prefer=status)
    result = gateway(client).send(sms())

    assert client.statuses() == [status]
    assert result.provider_sid is None and not result.ok
    err = result.error
    assert (err.code, err.permanent, err.pause, err.opted_out) == (code, permanent, pause, False)
    if status == 401:
        assert "TWILIO_AUTH_TOKEN" in err.message


@pytest.mark.parametrize(
    ("sender", "filters"),
    [
        ({"from_number": CLINIC_NUMBER}, {"To": PATIENT, "From": CLINIC_NUMBER}),
        ({"messaging_service_sid": SERVICE_SID}, {"To": PATIENT}),
    ],
    ids=["from", "service"],
)
def test_find_sent_lists_with_valid_filters_and_matches_on_body(prism_url, sender, filters):
    client = PrismClient(prism_url)
    gw = gateway(client)

    # Prism lists its own examples, never our text: nothing found, and no error either.
    assert gw.find_sent(sms(**sender), since=DUE) is None
    first = client.calls[0]
    assert (first.method, first.path) == ("GET", MESSAGES_PATH)
    assert first.params == {**filters, "PageSize": 50}
    assert set(client.statuses()) == {200}  # every page request validated

    # The example list holds an outbound "testing" created 2019-05-24 17:44:46 UTC: with that
    # body and a window reaching back to it, the lookup finds it (the parsing works) ...
    if "messaging_service_sid" in sender:
        # it went out through the example's service, not ours: not ours, then
        ours = sms("testing", **sender)
        assert gw.find_sent(ours, since=datetime(2019, 5, 24, 17, 44, tzinfo=UTC)) is None
        sender = {"messaging_service_sid": "MG" + "a" * 32}
    example = sms("testing", **sender)
    found = gw.find_sent(example, since=datetime(2019, 5, 24, 17, 44, tzinfo=UTC))
    assert found is not None and found.ok
    assert (found.provider_sid, found.provider_status) == (
        "SMded05904ccb347238880ca9264e8fe1c",
        "sent",
    )
    # ... and a window starting after it (minus the 5 min skew allowance) does not.
    assert gw.find_sent(example, since=datetime(2019, 5, 24, 17, 52, tzinfo=UTC)) is None


def test_find_sent_reports_an_outage_as_an_error_not_as_not_found(prism_url):
    """None would mean "not at Twilio, send it": an outage must not be mistaken for that."""
    client = PrismClient(prism_url, prefer=503)
    found = gateway(client).find_sent(sms(), since=DUE)

    assert client.statuses() == [503]
    assert found is not None and not found.ok
    assert not found.error.permanent


# -- the dispatcher, on SQLite and PostgreSQL ----------------------------------------------


def seed(sessions, patients: int = 1) -> None:
    """A clinic with its own number; ``patients`` consenting patients, each with a session
    completed at T0, planned (so one aftercare text each is due at DUE)."""
    seed_treated(
        sessions,
        [f"+1201555{i + 200:04d}" for i in range(patients)],
        T0,
        first_name="Ana",
        regions="calf",
    )


def dispatcher(sessions, runtime, gw: TwilioGateway) -> Dispatcher:
    return Dispatcher(
        sessions,
        gw,
        Catalogue.load(runtime.settings.messages_dir),
        worker="test",
        concurrency=4,
        wall_clock=lambda: T0,  # the run's clock stands at the ``now`` it is given
    )


def test_the_dispatcher_sends_through_prism_and_records_the_sid(prism_url, sessions, runtime):
    seed(sessions)
    gw = TwilioGateway(ACCOUNT_SID, "token", timeout=5, pool_size=4, api_url=prism_url)
    report = dispatcher(sessions, runtime, gw).run_once(DUE)

    assert (report.claimed, report.sent, report.retried, report.failed) == (1, 1, 0, 0)
    [msg] = aftercares(sessions)
    assert msg.status == "sent"
    assert SMS_SID.match(msg.provider_sid)
    assert (msg.provider_status, msg.attempts, msg.sent_at) == ("queued", 1, DUE)
    assert (msg.error_code, msg.lease_until) == (None, None)
    assert "Harbor Physio" in msg.body


def test_a_text_that_may_have_gone_out_is_looked_up_then_sent(prism_url, sessions, runtime):
    """After a timeout the dispatcher asks Twilio first (a valid list call); Prism has no such
    text, so it is sent, with the body stored on the row."""
    seed(sessions)
    with sessions() as db, db.begin():
        db.execute(
            OutboundMessage.__table__.update()
            .where(OutboundMessage.step == "aftercare")
            .values(error_code="timeout", body="Hi Ana, your aftercare notes", attempts=1)
        )
    client = PrismClient(prism_url)
    report = dispatcher(sessions, runtime, gateway(client)).run_once(DUE)

    assert report.sent == 1
    gets = [c for c in client.calls if c.method == "GET"]
    posts = [c for c in client.calls if c.method == "POST"]
    assert gets and gets[0].params == {"To": "+12015550200", "From": "+12015550111", "PageSize": 50}
    assert [p.data["Body"] for p in posts] == ["Hi Ana, your aftercare notes"]
    assert client.calls[-1] is posts[0]  # looked up first, then sent
    assert set(client.statuses()) <= {200, 201}
    [msg] = aftercares(sessions)
    assert (msg.status, msg.attempts) == ("sent", 2)
    assert SMS_SID.match(msg.provider_sid)


def test_a_503_puts_the_text_back_with_backoff_never_failing_it(prism_url, sessions, runtime):
    seed(sessions)
    client = PrismClient(prism_url, prefer=503)
    report = dispatcher(sessions, runtime, gateway(client)).run_once(DUE)

    assert client.statuses() == [503]
    assert (report.sent, report.retried, report.failed, report.released) == (0, 1, 0, 0)
    assert report.errors == {"20503": 1}
    [msg] = aftercares(sessions)
    assert (msg.status, msg.attempts, msg.error_code) == ("scheduled", 1, "20503")
    assert "Service Unavailable" in msg.error_message
    assert DUE + timedelta(seconds=15) <= msg.send_at <= DUE + timedelta(seconds=30)
    assert (msg.provider_sid, msg.lease_until) == (None, None)


def test_a_429_pauses_the_batch_and_gives_back_the_unsent_texts(prism_url, sessions, runtime):
    seed(sessions, patients=6)
    client = PrismClient(prism_url, prefer=429)
    d = dispatcher(sessions, runtime, gateway(client))
    report = d.run_once(DUE)

    # At most `concurrency` (4) requests were under way when the first 429 came back; every
    # other text of the batch goes back unsent.
    assert report.claimed == 6
    assert (report.sent, report.failed) == (0, 0)
    assert 1 <= report.retried <= 4
    assert report.released == 6 - report.retried >= 2
    assert report.errors == {"20429": report.retried}
    assert client.statuses() == [429] * report.retried

    texts = aftercares(sessions)
    assert {m.status for m in texts} == {"scheduled"}
    tried = [m for m in texts if m.attempts == 1]
    released = [m for m in texts if m.attempts == 0]  # attempt not spent
    assert (len(tried), len(released)) == (report.retried, report.released)
    assert {m.error_code for m in tried} == {"20429"}
    assert all(m.reason.startswith("released unsent: paused (20429") for m in released)
    # nothing is due again before the pause (15 to 30 s, like a first backoff) has passed
    assert all(
        DUE + timedelta(seconds=15) <= m.send_at <= DUE + timedelta(seconds=30) for m in texts
    )
    assert d.run_once(DUE + timedelta(seconds=14)).claimed == 0
    d.close()

    # Once Twilio takes requests again, all go out; the released ones on their first attempt.
    later = max(m.send_at for m in texts)
    d = dispatcher(sessions, runtime, gateway(PrismClient(prism_url)))
    report = d.run_once(later)
    d.close()
    assert report.sent == 6
    texts = aftercares(sessions)
    assert {m.status for m in texts} == {"sent"}
    assert sorted(m.attempts for m in texts) == sorted([2] * len(tried) + [1] * len(released))


# -- the command line, as a real process -------------------------------------------------------


def cli_env(db_url: str, **extra: str) -> dict[str, str]:
    env = clean_env()
    env.update(FOLLOWUP_DATABASE_URL=db_url, **extra)
    return env


def followup(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FOLLOWUP, *args], env=env, capture_output=True, text=True, timeout=120)


def outbox(env: dict[str, str]) -> list[dict]:
    done = followup(env, "outbox", "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture
def demo_db(tmp_path: Path) -> str:
    """A migrated SQLite file with the demo clinic and today's three sessions."""
    url = f"sqlite:///{tmp_path / 'followup.db'}"
    for args in (("db", "upgrade"), ("demo",)):
        done = followup(cli_env(url), *args)
        assert done.returncode == 0, done.stderr
    return url


def twilio_env(db_url: str, api_url: str, **extra: str) -> dict[str, str]:
    env = dict(
        FOLLOWUP_SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN="x",
        TWILIO_FROM_NUMBER=CLINIC_NUMBER,
        FOLLOWUP_TWILIO_API_URL=api_url,
    )
    env.update(extra)
    return cli_env(db_url, **env)


def test_send_due_with_the_twilio_backend_sends_through_prism(prism_url, demo_db):
    now = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    done = followup(twilio_env(demo_db, prism_url), "send-due", "--once", "--now", now)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "sent 3, retried 0, failed 0" in done.stdout
    sent = [row for row in outbox(cli_env(demo_db)) if row["status"] == "sent"]
    assert len(sent) == 3
    assert all(SMS_SID.match(row["provider_sid"]) for row in sent)
    assert all(row["attempts"] == 1 and row["error_code"] is None for row in sent)


def test_send_due_with_the_twilio_backend_and_no_token_stops_at_start(prism_url, demo_db):
    now = datetime.now(UTC) + timedelta(minutes=1)
    engine = make_engine(demo_db)
    plan_pending(make_sessionmaker(engine), now)  # so there are due texts it could send
    engine.dispose()
    before = outbox(cli_env(demo_db))
    due = [
        row
        for row in before
        if row["status"] == "scheduled" and datetime.fromisoformat(row["send_at"]) <= now
    ]
    assert len(due) == 3

    env = twilio_env(demo_db, prism_url)
    del env["TWILIO_AUTH_TOKEN"]
    done = followup(env, "send-due", "--once", "--now", now.isoformat())

    assert done.returncode == 1, done.stdout
    assert "TWILIO_AUTH_TOKEN" in done.stderr
    assert "TWILIO_ACCOUNT_SID and" not in done.stderr  # the SID is set: only the token named
    assert outbox(cli_env(demo_db)) == before  # nothing sent, claimed or even planned
