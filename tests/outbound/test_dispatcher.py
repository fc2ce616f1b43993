"""The dispatcher with a scripted gateway: outcomes, retries, opt-outs, and the event trail."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select
from support.scripted import INVALID, OPTED_OUT, T0, TRANSIENT, ScriptedGateway, dispatcher
from support.seeding import seed_treated

from followup.gateways.base import SendError, SendResult
from followup.gateways.policy import backoff, sender_for
from followup.store.models import MessageEvent, OutboundMessage, Patient
from followup.store.outbox import TransitionError, transition
from followup.texts.segments import analyze


@pytest.fixture
def seeded(sessions):
    """A clinic, a consenting patient and a session completed at T0, planned."""
    seed_treated(sessions, ["+12015550123"], T0, first_name="Ana", first_id=1, regions="calf")
    return sessions


def aftercare(sessions) -> OutboundMessage:
    with sessions() as db:
        return db.scalar(select(OutboundMessage).where(OutboundMessage.step == "aftercare"))


def events(sessions) -> list[tuple]:
    with sessions() as db:
        return db.execute(
            select(MessageEvent.from_status, MessageEvent.to_status, MessageEvent.reason).order_by(
                MessageEvent.id
            )
        ).all()


def test_it_sends_the_rendered_text_from_the_clinic_sender(seeded, runtime):
    gw = ScriptedGateway()
    report = dispatcher(seeded, runtime, gw).run_once(T0 + timedelta(minutes=30))
    assert (report.claimed, report.sent) == (1, 1)
    [sms] = gw.sent
    assert sms.to == "+12015550123"
    assert sms.from_number == "+12015550111"
    assert "Harbor Physio" in sms.body and "{{" not in sms.body
    msg = aftercare(seeded)
    assert (msg.status, msg.provider_sid, msg.attempts) == ("sent", "SM1", 1)
    assert msg.sent_at == T0 + timedelta(minutes=30)
    assert msg.body == sms.body
    assert [(f, t) for f, t, _ in events(seeded)] == [("scheduled", "sending"), ("sending", "sent")]


def test_accented_and_hidden_characters_in_names_do_not_cost_a_second_segment(sessions, runtime):
    """Names as a clinic's system exported them: the texts spell them in GSM-7 (and without
    the zero-width space), so each is one segment, not two or three in UCS-2."""
    seed_treated(
        sessions, ["+12015550123"], T0, first_name="Lucía\u200b", first_id=1,
        name="Clínica Ramón", default_locale="es",
    )  # fmt: skip
    gw = ScriptedGateway()
    dispatcher(sessions, runtime, gw).run_once(T0 + timedelta(minutes=30))  # aftercare
    dispatcher(sessions, runtime, gw).run_once(T0 + timedelta(days=1))  # the 24 h check-in
    aftercare_text, checkin = (sms.body for sms in gw.sent)
    assert aftercare_text.startswith("Clinica Ramon: ")
    assert checkin.startswith("Hola Lucia, le escribe Clinica Ramon.")
    for body in (aftercare_text, checkin):
        info = analyze(body)
        assert (info.encoding, info.segments) == ("GSM-7", 1), body


@pytest.mark.parametrize(
    ("written", "greeting"),
    [
        ("Ana. Your account is locked, call +1 900 555 0100", "Hi Ana, "),
        ("http://evil.example/pay", "Hi, "),
    ],
)
def test_a_message_written_into_the_name_column_never_reaches_a_text(
    sessions, runtime, written, greeting
):
    """A clinic's system writes patients straight into the database (docs/direct-writes.md),
    past the import's checks: the dispatcher cuts the name to a first name or drops it."""
    seed_treated(sessions, ["+12015550123"], T0, first_name=written, first_id=1)
    gw = ScriptedGateway()
    dispatcher(sessions, runtime, gw).run_once(T0 + timedelta(minutes=30))  # aftercare
    dispatcher(sessions, runtime, gw).run_once(T0 + timedelta(days=1))  # the 24 h check-in
    aftercare_text, checkin = (sms.body for sms in gw.sent)
    assert checkin.startswith(greeting), checkin
    for body in (aftercare_text, checkin):
        assert "900" not in body and "locked" not in body and "evil" not in body, body


def test_nothing_is_sent_before_it_is_due(seeded, runtime):
    gw = ScriptedGateway()
    # the aftercare is due right after the session (T0); a minute before, nothing goes
    assert dispatcher(seeded, runtime, gw).run_once(T0 - timedelta(minutes=1)).claimed == 0
    assert gw.sent == []


def test_a_transient_error_retries_later_with_backoff_never_failing_first(seeded, runtime):
    gw = ScriptedGateway(TRANSIENT)
    now = T0 + timedelta(minutes=30)
    report = dispatcher(seeded, runtime, gw).run_once(now)
    assert (report.retried, report.failed) == (1, 0)
    msg = aftercare(seeded)
    assert msg.status == "scheduled"
    assert msg.error_code == "20429"
    assert now + timedelta(seconds=15) <= msg.send_at <= now + timedelta(seconds=30)
    # at the retry time it goes out
    report = dispatcher(seeded, runtime, gw).run_once(msg.send_at)
    assert report.sent == 1
    assert aftercare(seeded).attempts == 2


def test_transient_errors_fail_the_text_after_max_attempts(seeded, runtime):
    gw = ScriptedGateway(TRANSIENT, TRANSIENT, TRANSIENT)
    d = dispatcher(seeded, runtime, gw, max_attempts=3)
    now = T0 + timedelta(minutes=30)
    for _ in range(3):
        d.run_once(now)
        now = max(now, aftercare(seeded).send_at)
    msg = aftercare(seeded)
    assert (msg.status, msg.attempts, msg.error_code) == ("failed", 3, "20429")
    assert "gave up after 3 attempts" in msg.reason


def test_a_permanent_error_fails_at_once_and_keeps_the_code(seeded, runtime):
    report = dispatcher(seeded, runtime, ScriptedGateway(INVALID)).run_once(
        T0 + timedelta(minutes=30)
    )
    assert report.failed == 1
    msg = aftercare(seeded)
    assert (msg.status, msg.error_code, msg.attempts) == ("failed", "21211", 1)


def test_provider_opt_out_marks_the_patient_and_skips_the_rest(seeded, runtime):
    now = T0 + timedelta(minutes=30)
    dispatcher(seeded, runtime, ScriptedGateway(OPTED_OUT)).run_once(now)
    with seeded() as db:
        assert db.scalar(select(Patient.opted_out_at)) == now
        statuses = dict(db.execute(select(OutboundMessage.step, OutboundMessage.status)).all())
    assert statuses == {"aftercare": "failed", "checkin_24h": "skipped", "checkin_72h": "skipped"}
    with seeded() as db:
        reasons = set(
            db.scalars(select(OutboundMessage.reason).where(OutboundMessage.status == "skipped"))
        )
    assert reasons == {"opted out: provider error 21610"}
    gw = ScriptedGateway()
    dispatcher(seeded, runtime, gw).run_once(T0 + timedelta(days=5))
    assert gw.sent == []


def test_a_landline_marks_the_number_unusable_and_skips_the_rest(seeded, runtime):
    landline = SendResult(error=SendError("30006", "Landline or unreachable carrier", True))
    now = T0 + timedelta(minutes=30)
    dispatcher(seeded, runtime, ScriptedGateway(landline)).run_once(now)
    with seeded() as db:
        patient = db.scalars(select(Patient)).one()
        assert (patient.phone_unusable_at, patient.opted_out_at) == (now, None)
        statuses = dict(db.execute(select(OutboundMessage.step, OutboundMessage.status)).all())
        reasons = set(
            db.scalars(select(OutboundMessage.reason).where(OutboundMessage.status == "skipped"))
        )
    assert statuses == {"aftercare": "failed", "checkin_24h": "skipped", "checkin_72h": "skipped"}
    assert reasons == {"number cannot receive texts: provider error 30006"}


def test_a_text_past_its_window_is_skipped_not_sent(seeded, runtime):
    gw = ScriptedGateway()
    report = dispatcher(seeded, runtime, gw).run_once(T0 + timedelta(days=2))
    assert gw.sent == []
    assert report.skipped >= 1
    assert aftercare(seeded).reason.startswith("too late")


def test_the_state_machine_refuses_impossible_moves(seeded):
    with seeded() as db, db.begin():
        msg_id = db.scalar(select(OutboundMessage.id).where(OutboundMessage.step == "aftercare"))
        with pytest.raises(TransitionError):
            transition(db, msg_id, "scheduled", "delivered", at=T0)
        # a move from a state the row is no longer in changes nothing
        assert transition(db, msg_id, "sending", "sent", at=T0) is False


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    delays = [backoff(n, rng=rng).total_seconds() for n in range(1, 12)]
    for n, d in enumerate(delays, start=1):
        exp = min(3600, 30 * 2 ** (n - 1))
        assert exp / 2 <= d <= exp
    assert max(delays) <= 3600


def test_a_text_whose_template_cannot_be_rendered_is_kept_and_retried(seeded, runtime):
    with seeded() as db, db.begin():
        db.execute(
            OutboundMessage.__table__.update()
            .where(OutboundMessage.step == "aftercare")
            .values(template_key="no_such_template")
        )
    gw = ScriptedGateway()
    now = T0 + timedelta(minutes=30)
    report = dispatcher(seeded, runtime, gw).run_once(now)
    assert gw.sent == []
    assert (report.retried, report.errors) == (1, {"template": 1})
    msg = aftercare(seeded)
    assert msg.status == "scheduled"
    assert msg.error_code == "template"
    assert "no_such_template" in msg.error_message
    assert msg.send_at == now + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("clinic_from", "clinic_service", "default_from", "default_service", "expected"),
    [
        ("+12015550111", None, "+12015550999", "MG" + "1" * 32, ("+12015550111", None)),
        (None, "MG" + "2" * 32, "+12015550999", None, (None, "MG" + "2" * 32)),
        ("+12015550111", "MG" + "2" * 32, None, None, (None, "MG" + "2" * 32)),
        (None, None, "+12015550999", "MG" + "1" * 32, (None, "MG" + "1" * 32)),
        (None, None, "+12015550999", None, ("+12015550999", None)),
        (None, None, None, None, (None, None)),
    ],
)
def test_the_clinic_sender_wins_and_only_one_sender_is_named(
    clinic_from, clinic_service, default_from, default_service, expected
):
    assert sender_for(clinic_from, clinic_service, default_from, default_service) == expected
