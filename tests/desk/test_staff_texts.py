"""Texts staff write to a patient, on both databases: refused with the reason when a text may
not go (nothing written), the emergency line added unless the text gives the number, quiet
hours kept, audited without the words, and sent by a real dispatcher run with the body staff
wrote, through every check of a send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from support.scripted import ScriptedGateway, dispatcher

from followup.desk import staff_texts, timeline
from followup.desk.errors import DeskError, NotFound
from followup.store.models import (
    AuditEvent,
    MessageEvent,
    OutboundMessage,
    Patient,
    TreatmentSession,
)
from followup.store.outbox import STAFF_TEMPLATE, texted_patients
from followup.store.session_records import cancel as cancel_session

ACTOR = "user:staff@north.example"
LINE = "If this is an emergency, call 911."


def _send(web, external_id: str, body: str, *, now=None, clinic: str = "north"):
    with web.sessions() as db:
        done = staff_texts.send_text(
            db, web.clinic_id(clinic), web.patient_id(external_id), body,
            catalogue=web.runtime.catalogue, now=now or web.clock.now, actor=ACTOR,
        )  # fmt: skip
        db.commit()
    return done


def _dispatch(web, gw: ScriptedGateway, now: datetime) -> None:
    """One dispatcher run at ``now``, its connections closed after it."""
    run = dispatcher(web.sessions, web.runtime, gw)
    try:
        run.run_once(now)
    finally:
        run.close()


def _staff_rows(web) -> list[OutboundMessage]:
    with web.sessions() as db:
        query = select(OutboundMessage).where(OutboundMessage.template_key == STAFF_TEMPLATE)
        return list(db.scalars(query.order_by(OutboundMessage.id)))


def _counts(web) -> tuple[int, int, int]:
    with web.sessions() as db:
        return (
            db.scalar(select(func.count()).select_from(OutboundMessage)),
            db.scalar(select(func.count()).select_from(MessageEvent)),
            db.scalar(select(func.count()).select_from(AuditEvent)),
        )


def _set_patient(web, external_id: str, **values) -> None:
    with web.sessions() as db, db.begin():
        db.execute(update(Patient).where(Patient.external_id == external_id).values(**values))


def test_a_staff_text_is_sent_by_the_dispatcher_with_its_body_and_the_emergency_line(clinic_web):
    web = clinic_web
    done = _send(web, "P0", "  Hi, the bruise is normal. Heat helps.\r\n")
    assert done.draft.body == f"Hi, the bruise is normal. Heat helps. {LINE}"
    assert (done.draft.emergency_line_added, done.draft.segments) == (True, 1)
    assert done.send_at == web.clock.now and "next tick" in done.note
    [row] = _staff_rows(web)
    assert (row.status, row.body, row.step[:6]) == ("scheduled", done.draft.body, "staff:")
    gw = ScriptedGateway()
    _dispatch(web, gw, web.clock.now)
    [sms] = [s for s in gw.sent if s.message_id == done.message_id]
    assert sms.body == done.draft.body and sms.to == "+12015550201"
    [row] = _staff_rows(web)
    assert row.status == "sent"
    north, p0 = web.clinic_id("north"), web.patient_id("P0")
    with web.sessions() as db:
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "text.staff")).all()
        trail = db.execute(
            select(MessageEvent.from_status, MessageEvent.to_status, MessageEvent.actor)
            .where(MessageEvent.message_id == row.id)
            .order_by(MessageEvent.id)
        ).all()
        seen = timeline.patient_timeline(db, north, p0, now=web.clock.now, actor=ACTOR)
    assert (event.subject, event.actor) == (f"message:{row.id}", ACTOR)
    assert "bruise" not in (event.detail or "") and "1 segment" in event.detail
    assert trail[0] == (None, "scheduled", ACTOR)
    assert [t[:2] for t in trail[1:]] == [("scheduled", "sending"), ("sending", "sent")]
    [item] = [t for t in seen.texts if t.id == row.id]
    writer = ACTOR.removeprefix("user:")
    assert (item.staff, item.written_by, item.body) == (True, writer, done.draft.body)


def test_a_text_that_gives_the_emergency_number_gets_no_second_line(clinic_web):
    done = _send(clinic_web, "P0", "Please call 911 now, then us.")
    assert done.draft.body == "Please call 911 now, then us."
    assert not done.draft.emergency_line_added
    # a longer number containing the digits is not the emergency number
    assert _send(clinic_web, "P1", "Call 9115550100").draft.emergency_line_added


def test_a_spanish_speaker_gets_the_line_in_spanish(clinic_web):
    _set_patient(clinic_web, "P0", locale="es")
    done = _send(clinic_web, "P0", "Hola, todo bien.")
    assert done.draft.body == "Hola, todo bien. Si es una emergencia, llame al 911."


@pytest.mark.parametrize(
    ("values", "body", "field", "words"),
    [
        ({"opted_out_at": datetime(2026, 3, 1, tzinfo=UTC), "opted_out_how": "sms: STOP"},
         "hello", "patient", "opted out"),
        ({"phone_unusable_at": datetime(2026, 3, 1, tzinfo=UTC),
          "phone_unusable_reason": "wrong number"}, "hello", "patient", "cannot receive"),
        ({"consent": False}, "hello", "patient", "consented"),
        ({}, "   \n ", "body", "write the text"),
        ({}, "word " * 100, "body", "the limit is 3"),
        ({}, "é" * 10 + "✓" * 200, "body", "the limit is 3"),
    ],
)  # fmt: skip
def test_a_text_that_may_not_go_is_refused_and_nothing_is_written(
    clinic_web, values, body, field, words
):
    if values:
        _set_patient(clinic_web, "P0", **values)
    before = _counts(clinic_web)
    with pytest.raises(DeskError) as refused:
        _send(clinic_web, "P0", body)
    assert refused.value.field == field and words in refused.value.reason
    assert _counts(clinic_web) == before


def test_another_clinics_patient_is_not_found(clinic_web):
    with pytest.raises(NotFound):
        _send(clinic_web, "P10", "hello")  # South's patient, from North
    assert _staff_rows(clinic_web) == []


def test_the_segment_count_includes_the_emergency_line(clinic_web):
    with clinic_web.sessions() as db:
        north, p0 = clinic_web.clinic_id("north"), clinic_web.patient_id("P0")
        cat = clinic_web.runtime.catalogue
        fits = staff_texts.preview(db, north, p0, "x" * (160 - len(LINE) - 1), catalogue=cat).draft
        over = staff_texts.preview(db, north, p0, "x" * (160 - len(LINE)), catalogue=cat).draft
        ucs2 = staff_texts.preview(db, north, p0, "Thanks 🙂", catalogue=cat).draft
    assert (fits.segments, fits.characters) == (1, 160)
    assert (over.segments, over.characters) == (2, 161)
    assert (ucs2.encoding, ucs2.non_gsm) == ("UCS-2", ("🙂",))


def test_a_text_written_at_night_waits_for_the_sending_hours(clinic_web):
    web = clinic_web
    night = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)  # 23:00 in New York
    done = _send(web, "P0", "We will call you in the morning.", now=night)
    morning = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # 08:00 in New York (EDT)
    assert done.send_at == morning
    assert "outside sending hours" in done.note and "2026-03-11 08:00" in done.note
    gw = ScriptedGateway()
    _dispatch(web, gw, night + timedelta(hours=1))
    assert done.message_id not in [s.message_id for s in gw.sent]
    _dispatch(web, gw, morning)
    assert done.message_id in [s.message_id for s in gw.sent]


def test_a_cancelled_session_does_not_drop_a_staff_answer_but_an_opt_out_does(clinic_web):
    web = clinic_web
    kept = _send(web, "P0", "Your question is answered here.")
    stopped = _send(web, "P1", "This one must not go.")
    with web.sessions() as db, db.begin():
        session = db.scalar(select(TreatmentSession).where(TreatmentSession.external_id == "S0"))
        cancel_session(db, session.clinic_id, session.id, now=web.clock.now,
                       reason="session cancelled", actor="key:x")  # fmt: skip
    _set_patient(web, "P1", opted_out_at=web.clock.now, opted_out_how="sms: STOP")
    gw = ScriptedGateway()
    _dispatch(web, gw, web.clock.now)
    sent = {s.message_id for s in gw.sent}
    assert kept.message_id in sent and stopped.message_id not in sent
    with web.sessions() as db:
        assert db.get(OutboundMessage, stopped.message_id).status == "skipped"
        assert db.get(OutboundMessage, kept.message_id).status == "sent"


def test_an_opt_out_arriving_between_claim_and_send_still_stops_it(clinic_web):
    web = clinic_web
    done = _send(web, "P0", "About your visit.")
    gw = ScriptedGateway()

    def stop_first(sms):  # the STOP lands while the batch is being sent
        if sms.message_id != done.message_id:
            _set_patient(web, "P0", opted_out_at=web.clock.now, opted_out_how="sms: STOP")

    gw.on_send = stop_first
    _dispatch(web, gw, web.clock.now)
    with web.sessions() as db:
        row = db.get(OutboundMessage, done.message_id)
    assert row.status == "skipped" and row.reason == "opted out"


def test_a_staff_text_is_not_the_plans_introduction(clinic_web):
    """A patient only staff have texted has not been told who texts them or how to stop:
    the planner still sends the plan's first text first."""
    web = clinic_web
    done = _send(web, "P0", "Hello from the desk.")
    with web.sessions() as db, db.begin():
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == done.message_id)
            .values(status="sent", sent_at=web.clock.now)
        )
    p0 = web.patient_id("P0")
    with web.sessions() as db:
        assert texted_patients(db.connection(), [p0]) == set()
