"""The nudge of an unanswered safety check-in, through the outbox on SQLite and PostgreSQL:
written once the check-in has gone, sent by the dispatcher, skipped by a reply, and staff
told when the nudge gets no answer either."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select
from support.scripted import T0, ScriptedGateway, dispatcher
from support.seeding import seed_treated

from followup.inbound.receive import InboundSms, receive
from followup.outbound.careplan import NUDGE_STEP as PLAN_NUDGE_STEP
from followup.outbound.nudges import run_nudges
from followup.store import replies
from followup.store.models import Flag, MessageEvent, OutboundMessage, Patient, StaffAlert
from followup.store.outbox import NUDGE_STEP
from followup.store.statuses import ReplyKind

PHONE, ONCALL = "+12015550123", "+12015550999"
#: the 24 h check-in of a session at T0 (10:00 in New York) is due the next day at 10:00
CHECKIN_AT = T0 + timedelta(days=1)
EMERGENCY_LINE = "Trouble breathing or chest pain? Call 911 now."


def seed(sessions, *, regions="upper_back", completed=T0):
    seed_treated(
        sessions, [PHONE], completed, first_name="Ana", first_id=1, regions=regions,
        oncall_phone=ONCALL,
    )  # fmt: skip


def texts(sessions) -> dict[str, OutboundMessage]:
    with sessions() as db:
        return {m.step: m for m in db.scalars(select(OutboundMessage))}


def flags(sessions) -> list[Flag]:
    with sessions() as db:
        return list(db.scalars(select(Flag).order_by(Flag.id)))


def alerts(sessions) -> list[StaffAlert]:
    with sessions() as db:
        return list(db.scalars(select(StaffAlert).order_by(StaffAlert.id)))


def send_until_checkin(sessions, runtime, gw, at=CHECKIN_AT):
    d = dispatcher(sessions, runtime, gw)
    d.run_once(T0)  # the aftercare
    d.run_once(at)  # the 24 h check-in
    sent = texts(sessions)["checkin_24h"]
    assert sent.status == "sent"
    return d


def test_an_unanswered_breathing_checkin_gets_one_nudge_then_staff_are_told(sessions, runtime):
    seed(sessions)
    gw = ScriptedGateway()
    d = send_until_checkin(sessions, runtime, gw)
    assert texts(sessions)["checkin_24h"].template_key == "checkin_24h_breathing"

    report = run_nudges(sessions, CHECKIN_AT + timedelta(minutes=1))
    assert (report.scheduled, report.skipped, report.escalated) == (1, 0, 0)
    nudge = texts(sessions)[NUDGE_STEP]
    assert (nudge.status, nudge.template_key) == ("scheduled", "nudge")
    assert nudge.send_at == CHECKIN_AT + timedelta(hours=4)
    assert nudge.reason == "only if the check-in gets no reply"
    # again (a restart, another worker): nothing new
    assert run_nudges(sessions, CHECKIN_AT + timedelta(minutes=2)).scheduled == 0
    assert len([m for m in texts(sessions).values() if m.step == NUDGE_STEP]) == 1

    d.run_once(CHECKIN_AT + timedelta(hours=4))
    nudge = texts(sessions)[NUDGE_STEP]
    assert nudge.status == "sent"
    assert EMERGENCY_LINE in gw.sent[-1].body and "Ana" in gw.sent[-1].body

    # the nudge waits for its answer: nothing for staff yet
    assert run_nudges(sessions, nudge.sent_at + timedelta(hours=3, minutes=59)).escalated == 0
    assert flags(sessions) == []
    assert run_nudges(sessions, nudge.sent_at + timedelta(hours=4)).escalated == 1
    [flag] = flags(sessions)
    assert (flag.kind, flag.status, flag.message_id, flag.inbound_id) == (
        "review", "open", nudge.id, None,
    )  # fmt: skip
    assert flag.reason.startswith("no answer")
    [alert] = alerts(sessions)
    assert (alert.flag_id, alert.channel, alert.destination) == (flag.id, "sms", ONCALL)
    # once: later runs and other workers find the flag
    assert run_nudges(sessions, nudge.sent_at + timedelta(hours=5)).escalated == 0
    assert len(flags(sessions)) == 1 and len(alerts(sessions)) == 1


def test_a_reply_skips_the_waiting_nudge_with_its_event(sessions, runtime):
    seed(sessions)
    send_until_checkin(sessions, runtime, ScriptedGateway())
    run_nudges(sessions, CHECKIN_AT + timedelta(minutes=1))
    at = CHECKIN_AT + timedelta(hours=1)
    with sessions() as db, db.begin():
        sms = InboundSms(sid="SMr1", from_number=PHONE, to_number="+12015550111", body="3")
        receive(db, sms, catalogue=runtime.catalogue, now=at)
    nudge = texts(sessions)[NUDGE_STEP]
    assert (nudge.status, nudge.reason) == ("skipped", "answered: the patient replied")
    with sessions() as db:
        trail = db.execute(
            select(MessageEvent.from_status, MessageEvent.to_status, MessageEvent.actor).where(
                MessageEvent.message_id == nudge.id
            )
        ).all()
    assert trail == [("scheduled", "skipped", "reply")]
    # and nobody is told: the patient answered
    assert run_nudges(sessions, at + timedelta(hours=12)).escalated == 0
    assert flags(sessions) == []


def test_a_reply_before_the_nudge_is_written_means_no_nudge(sessions, runtime):
    seed(sessions)
    send_until_checkin(sessions, runtime, ScriptedGateway())
    _file_reply(sessions, CHECKIN_AT + timedelta(minutes=5))
    assert run_nudges(sessions, CHECKIN_AT + timedelta(minutes=10)).skipped == 1
    nudge = texts(sessions)[NUDGE_STEP]
    assert (nudge.status, nudge.reason) == ("skipped", "answered: the patient replied")


def test_a_reply_that_arrives_after_the_nudge_was_written_stops_it_at_send_time(sessions, runtime):
    seed(sessions)
    gw = ScriptedGateway()
    d = send_until_checkin(sessions, runtime, gw)
    run_nudges(sessions, CHECKIN_AT + timedelta(minutes=1))
    # filed without the webhook's skip (a reply committed while the nudge was being written)
    _file_reply(sessions, CHECKIN_AT + timedelta(minutes=2))
    sent_before = len(gw.sent)
    d.run_once(CHECKIN_AT + timedelta(hours=4))
    assert len(gw.sent) == sent_before
    nudge = texts(sessions)[NUDGE_STEP]
    assert (nudge.status, nudge.reason) == ("skipped", "answered: the patient replied")


def test_a_plain_checkin_gets_no_nudge(sessions, runtime):
    seed(sessions, regions="calf")
    send_until_checkin(sessions, runtime, ScriptedGateway())
    assert texts(sessions)["checkin_24h"].template_key == "checkin_24h"
    report = run_nudges(sessions, CHECKIN_AT + timedelta(hours=5))
    assert (report.scheduled, report.skipped) == (0, 0)
    assert NUDGE_STEP not in texts(sessions)


def test_an_opted_out_patient_is_never_nudged(sessions, runtime):
    seed(sessions)
    send_until_checkin(sessions, runtime, ScriptedGateway())
    with sessions() as db, db.begin():
        db.execute(Patient.__table__.update().values(opted_out_at=CHECKIN_AT))
    assert run_nudges(sessions, CHECKIN_AT + timedelta(minutes=1)).skipped == 1
    nudge = texts(sessions)[NUDGE_STEP]
    assert (nudge.status, nudge.reason) == ("skipped", "opted out")
    assert run_nudges(sessions, CHECKIN_AT + timedelta(hours=12)).escalated == 0


def test_the_nudge_respects_quiet_hours(sessions, runtime):
    # a session at 18:00 in New York: the check-in goes at 18:00 the next day, its nudge would
    # be due at 22:00, after the clinic's 20:00: the next morning at 08:00
    completed = T0 + timedelta(hours=8)
    seed(sessions, completed=completed)
    gw = ScriptedGateway()
    d = dispatcher(sessions, runtime, gw)
    d.run_once(completed)
    d.run_once(completed + timedelta(days=1))
    run_nudges(sessions, completed + timedelta(days=1, minutes=1))
    nudge = texts(sessions)[NUDGE_STEP]
    assert nudge.status == "scheduled"
    assert nudge.send_at == T0 + timedelta(days=2, hours=-2)  # 08:00 EDT on the 11th


def test_two_workers_write_one_nudge_and_one_flag(sessions, runtime):
    seed(sessions)
    gw = ScriptedGateway()
    d = send_until_checkin(sessions, runtime, gw)
    at = CHECKIN_AT + timedelta(minutes=1)
    _together(lambda: run_nudges(sessions, at))
    assert len([m for m in texts(sessions).values() if m.step == NUDGE_STEP]) == 1
    d.run_once(CHECKIN_AT + timedelta(hours=4))
    later = CHECKIN_AT + timedelta(hours=9)
    _together(lambda: run_nudges(sessions, later))
    assert len(flags(sessions)) == 1 and len(alerts(sessions)) == 1


def test_the_plan_and_the_outbox_agree_on_the_nudge_step():
    assert PLAN_NUDGE_STEP == NUDGE_STEP


def _together(job, n: int = 4) -> None:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


def _file_reply(sessions, at) -> None:
    with sessions() as db, db.begin():
        patient_id = db.scalar(select(Patient.id))
        replies.file_reply(
            db.connection(), provider_sid=f"SM{at.timestamp()}", clinic_id=None,
            patient_id=patient_id, in_reply_to=None, from_number=PHONE, to_number=None,
            messaging_service_sid=None, body="2", num_media=0, received_at=at,
            kind=ReplyKind.SCORE, urgency="none", score=2, worry=None, matched=(),
            reply_key=None, reply_body=None,
        )  # fmt: skip
