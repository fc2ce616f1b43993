"""The Twilio webhooks through the real ASGI app: signatures, replies, flags, consent, status.

Each test runs on SQLite and PostgreSQL. Requests are signed by the SDK's RequestValidator
against the public URL, while the test client talks to another host name, as behind a proxy.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient
from support.seeding import midday_before, seed_treated
from support.webhooks import (
    PUBLIC_URL,
    TOKEN,
    RecordingGateway,
    inbound_params,
    new_sid,
    post_signed,
    sign,
)

from followup.config import load_settings
from followup.inbound.status_callbacks import reconcile
from followup.runtime import Runtime
from followup.store.engine import transaction
from followup.store.models import (
    Clinic,
    DeliveryReceipt,
    Flag,
    InboundMessage,
    MessageEvent,
    OutboundMessage,
    Patient,
    StaffAlert,
)
from followup.web.app import create_app

P0, P1, P2 = "+12015550201", "+12015550202", "+12015550203"
ONCALL = "+12015550999"
INBOUND, STATUS = "/twilio/inbound", "/twilio/status"


@pytest.fixture
def app_rt(env):
    rt = Runtime(
        load_settings({**env, "TWILIO_AUTH_TOKEN": TOKEN, "FOLLOWUP_PUBLIC_URL": PUBLIC_URL})
    )
    yield rt
    rt.close()


@pytest.fixture
def seeded(app_rt):
    """Harbor with three treated patients (P2 reads Spanish) whose 24 h check-in went out."""
    now = datetime.now(UTC)
    seed_treated(app_rt.sessions, [P0, P1, P2], midday_before(now - timedelta(hours=30)))
    with transaction(app_rt.sessions) as db:
        db.execute(update(Patient).where(Patient.phone == P2).values(locale="es"))
        db.execute(update(Clinic).values(oncall_phone=ONCALL))
        for m in db.scalars(select(OutboundMessage).where(OutboundMessage.step == "checkin_24h")):
            m.status, m.sent_at, m.provider_sid = "sent", now - timedelta(hours=5), f"SMck{m.id}"
    return app_rt


@pytest.fixture
def client(seeded):
    gateway = RecordingGateway()
    with TestClient(create_app(seeded, gateway=gateway), base_url="http://internal:8000") as c:
        c.gateway = gateway  # type: ignore[attr-defined]
        yield c


def say(client, body: str, sender: str = P0, **extra: str):
    return post_signed(client, INBOUND, inbound_params(body, sender, **extra))


def answer(response) -> str | None:
    """The text of the TwiML <Message>, or None for an empty <Response/>."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    message = ET.fromstring(response.text).find("Message")
    return None if message is None else message.text


def count(rt, model, *where) -> int:
    with rt.sessions() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def one(rt, model, *where):
    with rt.sessions() as db:
        return db.scalars(select(model).where(*where)).one()


def patient(rt, phone: str) -> Patient:
    return one(rt, Patient, Patient.phone == phone)


def texts(rt, p: Patient, status: str) -> int:
    """How many of patient ``p``'s texts are in ``status``."""
    return count(
        rt, OutboundMessage, OutboundMessage.patient_id == p.id, OutboundMessage.status == status
    )


# -- signatures ------------------------------------------------------------------------------


def test_an_unsigned_request_is_refused_and_changes_nothing(client, seeded):
    r = post_signed(client, INBOUND, inbound_params("STOP", P0), signature=None)
    assert r.status_code == 403
    assert count(seeded, InboundMessage) == 0
    assert patient(seeded, P0).opted_out_at is None


def test_a_signature_made_with_another_token_is_refused(client, seeded):
    params = inbound_params("I can't breathe", P0)
    r = post_signed(client, INBOUND, params, signature=sign(INBOUND, params, token="other"))
    assert r.status_code == 403
    assert count(seeded, InboundMessage) == 0 and count(seeded, Flag) == 0


def test_a_tampered_body_is_refused(client, seeded):
    params = inbound_params("3", P0)
    r = post_signed(client, INBOUND, params, body_params={**params, "Body": "STOP"})
    assert r.status_code == 403
    assert patient(seeded, P0).opted_out_at is None
    assert count(seeded, InboundMessage) == 0


def test_the_signature_is_checked_against_the_public_url_not_the_one_served(client, seeded):
    params = inbound_params("3", P0)
    internal = sign(INBOUND, params, base="http://internal:8000")
    assert post_signed(client, INBOUND, params, signature=internal).status_code == 403
    assert post_signed(client, INBOUND, params).status_code == 200  # signed for PUBLIC_URL


def test_without_an_auth_token_every_webhook_is_refused(seeded, env):
    rt = Runtime(load_settings({**env, "FOLLOWUP_PUBLIC_URL": PUBLIC_URL}))
    try:
        with TestClient(create_app(rt, gateway=RecordingGateway())) as c:
            assert say(c, "STOP").status_code == 403
            status = {"MessageSid": "SMck1", "MessageStatus": "delivered"}
            assert post_signed(c, STATUS, status).status_code == 403
    finally:
        rt.close()
    assert count(seeded, InboundMessage) == 0 and count(seeded, DeliveryReceipt) == 0


def test_a_signed_request_without_sender_is_a_bad_request(client):
    params = inbound_params("3", P0)
    del params["From"]
    assert post_signed(client, INBOUND, params).status_code == 400


# -- replies ---------------------------------------------------------------------------------


def test_a_score_is_linked_to_patient_clinic_and_check_in_and_thanked(client, seeded):
    text = answer(say(client, "about a 3"))
    assert text is not None and "Thanks PatA" in text and "Harbor Physio" in text
    row = one(seeded, InboundMessage)
    p = patient(seeded, P0)
    checkin = one(
        seeded,
        OutboundMessage,
        OutboundMessage.patient_id == p.id,
        OutboundMessage.step == "checkin_24h",
    )
    assert (row.patient_id, row.clinic_id, row.in_reply_to) == (p.id, p.clinic_id, checkin.id)
    assert (row.kind, row.score, row.reply_key, row.reply_body) == (
        "score",
        3,
        "reply_thanks",
        text,
    )
    assert count(seeded, Flag) == 0


def test_a_repeated_message_sid_is_processed_once(client, seeded):
    params = inbound_params("I fainted this morning", P0)
    first = answer(post_signed(client, INBOUND, params))
    second = answer(post_signed(client, INBOUND, params))
    assert first == second and first is not None
    assert count(seeded, InboundMessage) == 1
    assert count(seeded, Flag) == 1
    assert count(seeded, StaffAlert) == 1


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_an_emergency_gets_the_emergency_number_a_flag_and_a_staff_text_in_seconds(client, seeded):
    started = time.monotonic()
    text = answer(say(client, "chest pain and I can't breathe properly"))
    assert text is not None and "911" in text and "(201) 555-0100" in text
    assert "chest" not in text.lower() and "breath" not in text.lower()  # no symptom echoed
    flag = one(seeded, Flag)
    assert (flag.kind, flag.status, flag.patient_id) == (
        "emergency",
        "open",
        patient(seeded, P0).id,
    )
    assert wait_for(lambda: client.gateway.sent)
    assert time.monotonic() - started < 5
    (alert,) = client.gateway.sent
    assert alert.to == ONCALL and alert.from_number == "+12015550111"
    assert "PatA" in alert.body
    for phi in ("chest", "breath", P0, "201) 555-0201"):
        assert phi not in alert.body
    assert wait_for(lambda: one(seeded, StaffAlert).status == "sent")


def _next_weekday_at(hour: int) -> datetime:
    """The next Tuesday at ``hour`` New York time: a fixed side of Harbor's opening hours
    (Mon-Fri 09:00-17:00 by default), whatever the machine's clock says."""
    ny = ZoneInfo("America/New_York")
    t = datetime.now(ny).replace(hour=hour, minute=0, second=0, microsecond=0)
    t += timedelta(days=(1 - t.weekday()) % 7 or 7)
    return t.astimezone(UTC)


@pytest.mark.parametrize(
    ("hour", "promise"),
    [(11, "will call you today"), (21, "will call you during opening hours, from Wed 09:00")],
)
def test_a_clinic_today_red_flag_says_when_the_clinic_will_call(seeded, hour, promise):
    at = _next_weekday_at(hour)
    app = create_app(seeded, gateway=RecordingGateway(), clock=lambda: at)
    with TestClient(app, base_url="http://internal:8000") as client:
        text = answer(say(client, "the bleeding won't stop even with pressure"))
    assert text is not None and promise in text and "(201) 555-0100" in text
    assert "911" in text  # the way to emergency help, open or closed
    assert "bleed" not in text.lower()
    assert one(seeded, Flag).kind == "clinic_today"
    assert patient(seeded, P0).opted_out_at is None  # "won't stop" is not an opt-out


def test_spanish_patients_are_answered_in_spanish(client, seeded):
    text = answer(say(client, "me duele el pecho y no puedo respirar", sender=P2))
    assert text is not None and text.startswith("Llame al 911") and "Harbor Physio" in text
    assert one(seeded, Flag).kind == "emergency"


@pytest.mark.parametrize(
    ("first", "second", "flagged"),
    [(None, "8", "score 8 (7+)"), ("2", "5", "score 5, up from 2"), ("5", "3", None)],
)
def test_high_and_rising_scores_ask_for_a_call_back(client, seeded, first, second, flagged):
    if first:
        answer(say(client, first))
    text = answer(say(client, second))
    flags = [f.reason for f in _all(seeded, Flag)]
    if flagged:
        assert flags == [flagged]
        assert text is not None and "will call you back" in text
    else:
        assert flags == []
        assert text is not None and text.startswith("Thanks PatA")


def _all(rt, model):
    with rt.sessions() as db:
        return list(db.scalars(select(model).order_by(model.id)))


def _checkin_72h_sent(rt, phone: str) -> None:
    now = datetime.now(UTC)
    p = patient(rt, phone)
    with transaction(rt.sessions) as db:
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.patient_id == p.id, OutboundMessage.step == "checkin_72h")
            .values(status="sent", sent_at=now - timedelta(minutes=5), provider_sid=new_sid())
        )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("4 0", "score 4 at 72 h (4+)"),
        ("2 1", "bruise or bleeding worries the patient"),
        ("1 0", None),
    ],
)
def test_the_72h_check_in_reads_two_numbers(client, seeded, body, reason):
    _checkin_72h_sent(seeded, P1)
    answer(say(client, body, sender=P1))
    row = one(seeded, InboundMessage)
    assert row.in_reply_to is not None
    assert [f.reason for f in _all(seeded, Flag)] == ([reason] if reason else [])


def test_free_text_goes_to_the_staff_inbox_and_is_acknowledged_once_a_day(client, seeded):
    first = answer(say(client, "Can I go to the gym tomorrow?"))
    second = answer(say(client, "Also, is a hot bath ok?"))
    assert first is not None and "staff will read your message" in first
    # never silence: the second gets the short acknowledgement, with the emergency number
    assert second is not None and "staff will read this" in second and "911" in second
    assert "(201) 555-0100" in first and "(201) 555-0100" not in second
    assert [f.kind for f in _all(seeded, Flag)] == ["review", "review"]
    assert count(seeded, StaffAlert) == 0  # the inbox is read, nobody is paged for it


def test_a_negated_red_flag_is_not_answered_as_an_emergency_but_is_reviewed(client, seeded):
    text = answer(say(client, "no chest pain, just sore, 3"))
    # the thanks for a score (which carries the emergency line, as every answer does), not
    # the emergency answer
    assert text is not None and text.startswith("Thanks PatA, Harbor Physio got your answer")
    assert "now" not in text
    (flag,) = _all(seeded, Flag)
    assert flag.kind == "review" and "chest pain" in flag.reason


def test_an_unknown_number_is_kept_flagged_and_still_told_what_to_do(client, seeded):
    text = answer(say(client, "I passed out", sender="+12015550777"))
    row = one(seeded, InboundMessage)
    assert row.patient_id is None and row.clinic_id == one(seeded, Clinic).id
    assert text is not None and "911" in text
    assert one(seeded, Flag).kind == "emergency"


def test_a_reply_to_a_number_no_clinic_uses_is_kept_and_told_whom_to_call(client, seeded):
    text = answer(say(client, "hello?", sender="+12015550777", to="+19995550000"))
    assert text is not None and "call 911 now" in text and "Harbor" not in text
    row = one(seeded, InboundMessage)
    assert (row.clinic_id, row.patient_id, row.body) == (None, None, "hello?")
    assert one(seeded, Flag).kind == "review"


# -- consent ---------------------------------------------------------------------------------


def test_stop_opts_out_skips_pending_texts_and_leaves_the_answer_to_twilio(client, seeded):
    assert answer(say(client, "STOP")) is None  # Twilio answers its own keywords
    p = patient(seeded, P0)
    assert p.opted_out_at is not None and p.opted_out_how == "sms: STOP"
    assert texts(seeded, p, "scheduled") == 0
    assert texts(seeded, p, "skipped") >= 1
    assert patient(seeded, P1).opted_out_at is None


def test_other_opt_out_wording_is_honoured_and_confirmed_once(client, seeded):
    text = answer(say(client, "please stop texting me"))
    assert text is not None and "no more texts" in text and "START" in text
    assert patient(seeded, P0).opted_out_how == "sms: please stop texting me"


def test_start_after_stop_revives_the_texts_the_opt_out_skipped(client, seeded):
    answer(say(client, "Stop"))
    p = patient(seeded, P0)
    with seeded.sessions() as db:
        skipped = {
            m.step: m.expires_at
            for m in db.scalars(
                select(OutboundMessage).where(
                    OutboundMessage.patient_id == p.id, OutboundMessage.status == "skipped"
                )
            )
        }
    now = datetime.now(UTC)
    still_useful = {step for step, expires in skipped.items() if expires > now}
    assert "aftercare" in skipped and "aftercare" not in still_useful  # its window has passed
    assert still_useful
    assert answer(say(client, "START")) is None
    p = patient(seeded, P0)
    assert p.opted_out_at is None and p.consent and p.consent_method is None  # as imported
    with seeded.sessions() as db:
        scheduled = set(
            db.scalars(
                select(OutboundMessage.step).where(
                    OutboundMessage.patient_id == p.id, OutboundMessage.status == "scheduled"
                )
            )
        )
    assert scheduled == still_useful


def test_advanced_opt_out_type_is_followed(client, seeded):
    assert answer(say(client, "Para ya", sender=P2, OptOutType="STOP")) is None
    assert patient(seeded, P2).opted_out_at is not None


def test_help_wording_gets_the_clinic_name_and_phone(client, seeded):
    assert answer(say(client, "HELP")) is None  # Twilio's own HELP answer
    text = answer(say(client, "ayuda", sender=P2))
    assert text is not None and "Harbor Physio" in text and "(201) 555-0100" in text


# -- delivery status -------------------------------------------------------------------------


def _status(client, sid: str, status: str, code: str | None = None):
    params = {
        "MessageSid": sid,
        "MessageStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": P0,
        "From": "+12015550111",
        "ApiVersion": "2010-04-01",
    }
    if code:
        params["ErrorCode"] = code
    r = post_signed(client, STATUS, params)
    assert r.status_code == 200, r.text
    return r


def _checkin(rt, phone: str = P0) -> OutboundMessage:
    p = patient(rt, phone)
    return one(
        rt,
        OutboundMessage,
        OutboundMessage.patient_id == p.id,
        OutboundMessage.step == "checkin_24h",
    )


def test_status_callbacks_move_forward_only_and_record_events(client, seeded):
    m = _checkin(seeded)
    _status(client, m.provider_sid, "delivered")
    _status(client, m.provider_sid, "sent")  # late and out of order
    _status(client, m.provider_sid, "delivered")  # repeated
    m = _checkin(seeded)
    assert (m.status, m.provider_status) == ("delivered", "delivered")
    events = _all(seeded, MessageEvent)
    mine = [(e.from_status, e.to_status, e.actor) for e in events if e.message_id == m.id]
    assert mine[-1] == ("sent", "delivered", "twilio")
    assert count(seeded, DeliveryReceipt) == 2  # delivered once, sent once


def test_undelivered_to_a_landline_marks_the_number_unusable(client, seeded):
    m = _checkin(seeded)
    _status(client, m.provider_sid, "undelivered", "30006")
    m = _checkin(seeded)
    assert (m.status, m.error_code) == ("undelivered", "30006")
    p = patient(seeded, P0)
    assert p.phone_unusable_at is not None
    assert texts(seeded, p, "scheduled") == 0


def test_failed_with_21610_marks_the_patient_opted_out(client, seeded):
    m = _checkin(seeded, P1)
    _status(client, m.provider_sid, "failed", "21610")
    p = patient(seeded, P1)
    assert p.opted_out_at is not None and p.opted_out_how == "provider error 21610"


def test_a_callback_that_outruns_the_sid_is_applied_once_the_sid_is_known(client, seeded):
    sid = new_sid()
    _status(client, sid, "delivered")
    (receipt,) = _all(seeded, DeliveryReceipt)
    assert receipt.applied_at is None
    m = _checkin(seeded)
    with transaction(seeded.sessions) as db:
        db.execute(
            update(OutboundMessage).where(OutboundMessage.id == m.id).values(provider_sid=sid)
        )
        assert reconcile(db, datetime.now(UTC)) == 1
    assert _checkin(seeded).status == "delivered"
    with transaction(seeded.sessions) as db:
        assert reconcile(db, datetime.now(UTC)) == 0


def test_a_shared_number_links_to_the_record_texted_a_check_in_most_recently(client, seeded):
    """A parent and child on one phone: the reply answers the latest check-in sent."""
    now = datetime.now(UTC)
    seed_treated(
        seeded.sessions,
        [P0],
        now - timedelta(hours=30),
        first_id=9,
        slug="harbor-2",
        from_number="+12015550112",
    )
    harbor = one(seeded, Clinic, Clinic.slug == "harbor").id
    with transaction(seeded.sessions) as db:
        clinic_2 = db.scalar(select(Clinic.id).where(Clinic.slug == "harbor-2"))
        db.execute(update(Patient).where(Patient.external_id == "P9").values(clinic_id=harbor))
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.clinic_id == clinic_2, OutboundMessage.step == "checkin_24h")
            .values(status="sent", sent_at=now - timedelta(hours=10), provider_sid=new_sid())
        )
    text = answer(say(client, "4"))
    row = one(seeded, InboundMessage)
    # P9 is the newer record, but P0 got the latest check-in (5 h ago against 10 h)
    answered = one(seeded, Patient, Patient.external_id == "P0")
    assert row.patient_id == answered.id
    assert text is not None and "PatA" in text


def test_an_unknown_number_is_also_acknowledged_once_a_day(client, seeded):
    first = answer(say(client, "who do I ask about parking?", sender="+12015550777"))
    second = answer(say(client, "hello??", sender="+12015550777"))
    assert first is not None and first.startswith("Thanks, Harbor Physio staff will read")
    assert second is not None and "staff will read this" in second and "911" in second
    assert [f.kind for f in _all(seeded, Flag)] == ["review", "review"]


# -- hardening -------------------------------------------------------------------------------


def test_a_replayed_request_with_a_field_moved_into_the_sid_is_refused(client, seeded):
    """Twilio signs names and values concatenated: dropping NumMedia and appending it to the
    MessageSid keeps the signature valid. The SID's shape gives it away."""
    params = inbound_params("I can't breathe", P0)
    assert answer(post_signed(client, INBOUND, params)) is not None
    replay = {k: v for k, v in params.items() if k != "NumMedia"}
    replay["MessageSid"] = params["MessageSid"] + "NumMedia" + params["NumMedia"]
    assert sign(INBOUND, replay) == sign(INBOUND, params)  # the signature still matches
    r = post_signed(client, INBOUND, replay)
    assert r.status_code == 400
    assert count(seeded, InboundMessage) == 1 and count(seeded, Flag) == 1


@pytest.mark.parametrize("sid", ["SM123", "XX" + "a" * 32, "SM" + "g" * 32, ""])
def test_a_message_sid_without_twilios_shape_is_a_bad_request(client, seeded, sid):
    params = inbound_params("3", P0)
    params["MessageSid"] = sid
    assert post_signed(client, INBOUND, params).status_code == 400
    assert count(seeded, InboundMessage) == 0


def test_a_request_signed_for_another_account_is_refused(seeded, env):
    settings = {
        **env,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "FOLLOWUP_PUBLIC_URL": PUBLIC_URL,
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    }
    rt = Runtime(load_settings(settings))
    try:
        with TestClient(create_app(rt, gateway=RecordingGateway())) as c:
            assert say(c, "STOP").status_code == 403  # inbound_params says AC000...
            ours = inbound_params("3", P0, AccountSid="AC" + "1" * 32)
            assert post_signed(c, INBOUND, ours).status_code == 200
    finally:
        rt.close()
    assert count(seeded, InboundMessage) == 1
    assert patient(seeded, P0).opted_out_at is None


def test_a_huge_body_is_refused_before_it_is_read(client, seeded):
    params = inbound_params("x" * 70_000, P0)
    r = post_signed(client, INBOUND, params)
    assert r.status_code == 413
    assert count(seeded, InboundMessage) == 0


def test_control_characters_and_overflowing_counts_do_not_lose_the_reply(client, seeded):
    """A NUL in Body or From broke PostgreSQL (500, reply lost); a 20-digit NumMedia
    overflowed. Now they are cleaned and bounded, and the reply is read as any other."""
    r = say(client, "I can't\x00 breathe\x07", sender=P0 + "\x00", NumMedia="9" * 20)
    assert "911" in (answer(r) or "")
    row = one(seeded, InboundMessage)
    assert row.body == "I can't breathe" and row.from_number == P0
    assert row.num_media == 10 and row.kind == "emergency"


def test_a_long_body_is_kept_but_cut(client, seeded):
    r = say(client, "3 " + "y" * 5_000)
    assert r.status_code == 200
    assert len(one(seeded, InboundMessage).body) == 2_000


def test_a_failing_request_logs_where_it_failed_never_the_number_or_the_words(
    client, seeded, monkeypatch, caplog
):
    """No PHI in logs, ever: the failure is logged with its frames, and Twilio gets a 500
    so it retries (the reply is not lost)."""
    from followup import log_privacy
    from followup.inbound import receive

    def broken(conn, sms, **_kwargs):
        raise RuntimeError(f"cannot store {sms.from_number}: {sms.body!r}")

    before = logging.getLogRecordFactory()
    log_privacy._installed = False
    log_privacy.install()
    monkeypatch.setattr(receive, "receive", broken)
    try:
        with caplog.at_level(logging.ERROR):
            r = say(client, "my chest hurts a lot", sender=P1)
    finally:
        logging.setLogRecordFactory(before)
        log_privacy._installed = False
    assert r.status_code == 500
    logged = "\n".join(logging.Formatter().format(rec) for rec in caplog.records)
    assert "could not be stored" in logged and "[message withheld]" in logged
    assert P1 not in logged and P1[2:] not in logged and "chest" not in logged


@pytest.mark.parametrize("dev_mode", ["0", "1"])
def test_without_a_public_url_webhooks_are_off_unless_in_dev_mode(seeded, env, dev_mode):
    """The URL this server sees comes from Host and X-Forwarded-* headers, which a caller
    chooses: a signature made for another URL would pass. Only a declared local setup may
    check against it."""
    settings = {**env, "TWILIO_AUTH_TOKEN": TOKEN, "FOLLOWUP_DEV_MODE": dev_mode}
    rt = Runtime(load_settings(settings))
    served = "http://testserver"
    try:
        with TestClient(create_app(rt, gateway=RecordingGateway()), base_url=served) as c:
            params = inbound_params("3", P0)
            signature = sign(INBOUND, params, base=served)
            r = post_signed(c, INBOUND, params, signature=signature)
    finally:
        rt.close()
    assert r.status_code == (200 if dev_mode == "1" else 403)
    assert count(seeded, InboundMessage) == (1 if dev_mode == "1" else 0)
