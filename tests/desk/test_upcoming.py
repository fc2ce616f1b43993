"""Upcoming texts, cancelling one and sending one now, on both databases: only the clinic's
texts, only waiting ones, a safety text only with a reason, and "now" within the rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from support.webhooks import DONE, NOW

from followup.desk import patients, timeline, upcoming
from followup.desk.errors import DeskError, NotFound
from followup.outbound.planner import plan_pending
from followup.store import patient_records
from followup.store.models import AuditEvent, OutboundMessage
from followup.store.statuses import MessageStatus

ACTOR = "user:front@harbor.test"


def text(clinics, message_id: int) -> OutboundMessage:
    with clinics.sessions() as db:
        return db.get(OutboundMessage, message_id)


def test_the_upcoming_list_is_the_clinics_waiting_texts_of_the_next_week_in_pages(clinics):
    harbor, bay = clinics.clinic_id("harbor"), clinics.clinic_id("bay")
    with clinics.sessions() as db:
        page = upcoming.upcoming(db, harbor, now=NOW, per_page=4)
        rest = upcoming.upcoming(db, harbor, now=NOW, page=2, per_page=4)
        theirs = upcoming.upcoming(db, bay, now=NOW)
        with pytest.raises(DeskError):
            upcoming.upcoming(db, harbor, now=NOW, page=0)
    assert page.total == rest.total and page.pages == -(-page.total // 4)
    listed = [t.id for t in page.items + rest.items]
    assert len(set(listed)) == len(listed) == min(page.total, 8)
    assert {t.patient_id for t in page.items + rest.items} <= {"P0", "P1", "P2"}
    assert {t.patient_id for t in theirs.items} == {"P5"}
    assert all(t.status == MessageStatus.SCHEDULED for t in page.items)
    assert all(t.send_at < NOW + timedelta(days=7) for t in page.items + rest.items)
    sends = [t.send_at for t in page.items + rest.items]
    assert sends == sorted(sends)
    aftercare = next(t for t in page.items if t.step == "aftercare")
    assert aftercare.safety


def test_a_safety_text_is_cancelled_only_with_a_reason_audited_and_never_revived(clinics):
    harbor, bay = clinics.clinic_id("harbor"), clinics.clinic_id("bay")
    aftercare, p0 = clinics.text_id("P0", "aftercare"), clinics.patient_id("P0")
    with clinics.sessions() as db:
        with pytest.raises(DeskError) as refused:
            upcoming.cancel(db, harbor, aftercare, now=NOW, actor=ACTOR)
        assert refused.value.field == "reason"
        with pytest.raises(NotFound):
            upcoming.cancel(db, bay, aftercare, now=NOW, actor=ACTOR, reason="x")
        done = upcoming.cancel(
            db, harbor, aftercare, now=NOW, actor=ACTOR, reason="told in person at the desk"
        )
        db.commit()
    assert done.status == MessageStatus.SKIPPED and "told in person" in done.reason
    with clinics.sessions() as db:
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "message.cancel"))
        assert event.subject == f"message:{aftercare}" and event.detail.startswith("safety text")
        # the timeline shows the move, with who made it
        seen = timeline.patient_timeline(db, harbor, p0, now=NOW, actor=ACTOR)
        moved = next(t for t in seen.texts if t.id == aftercare).events[-1]
        assert (moved.to_status, moved.actor) == (MessageStatus.SKIPPED, ACTOR)
        with pytest.raises(DeskError) as again:
            upcoming.cancel(db, harbor, aftercare, now=NOW, actor=ACTOR, reason="again")
        assert again.value.field == "status"
        patient_records.replan_patient(db, harbor, p0)
        db.commit()
    plan_pending(clinics.sessions, NOW + timedelta(minutes=5))
    assert text(clinics, aftercare).status == MessageStatus.SKIPPED


def test_send_now_makes_a_waiting_text_due_and_says_when_it_will_go(clinics):
    harbor = clinics.clinic_id("harbor")
    checkin = clinics.text_id("P2", "checkin_24h")
    with clinics.sessions() as db:
        result = upcoming.send_now(db, harbor, checkin, now=NOW, actor=ACTOR)
        db.commit()
    assert result.goes_at == NOW and "next tick" in result.note
    assert text(clinics, checkin).send_at == NOW
    assert text(clinics, checkin).status == MessageStatus.SCHEDULED


def test_send_now_at_night_waits_for_the_sending_hours(clinics):
    harbor = clinics.clinic_id("harbor")
    checkin = clinics.text_id("P2", "checkin_72h")
    night = DONE + timedelta(hours=12)  # 22:00 in New York
    with clinics.sessions() as db:
        result = upcoming.send_now(db, harbor, checkin, now=night, actor=ACTOR)
        db.commit()
    assert "outside sending hours" in result.note and "08:00" in result.note
    assert result.goes_at > night


def test_send_now_refuses_what_a_send_would_refuse(clinics):
    harbor, bay = clinics.clinic_id("harbor"), clinics.clinic_id("bay")
    checkin, p1 = clinics.text_id("P1", "checkin_24h"), clinics.patient_id("P1")
    sent = clinics.text_id("P2", "aftercare")
    clinics.update_text("P2", "aftercare", status=MessageStatus.SENT, sent_at=NOW)
    with clinics.sessions() as db:
        # consent withdrawn: the text still waits for the planner, and a send is refused
        patients.update_patient(db, harbor, p1, now=NOW, actor=ACTOR, consent=False)
        with pytest.raises(DeskError) as refused:
            upcoming.send_now(db, harbor, checkin, now=NOW, actor=ACTOR)
        assert refused.value.reason == "it cannot be sent: no consent"
        with pytest.raises(DeskError) as gone:
            upcoming.send_now(db, harbor, sent, now=NOW, actor=ACTOR)
        assert gone.value.field == "status"
        with pytest.raises(NotFound):
            upcoming.send_now(db, bay, sent, now=NOW, actor=ACTOR)


def test_texts_are_listed_by_status_and_time(clinics):
    harbor = clinics.clinic_id("harbor")
    clinics.update_text("P2", "aftercare", status=MessageStatus.SENT, sent_at=NOW)
    with clinics.sessions() as db:
        sent = upcoming.list_texts(db, harbor, status="sent")
        later = upcoming.list_texts(db, harbor, since=NOW + timedelta(days=2))
        with pytest.raises(DeskError) as bad:
            upcoming.list_texts(db, harbor, status="lost")
        assert bad.value.field == "status"
    assert [t.step for t in sent.items] == ["aftercare"]
    assert all(t.send_at >= NOW + timedelta(days=2) for t in later.items) and later.items
