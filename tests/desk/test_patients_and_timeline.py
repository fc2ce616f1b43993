"""Finding a patient, their record and timeline, and the changes staff make to it, on both
databases: scoped to the clinic (another clinic's patient is not found), audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from support.webhooks import DONE, NOW, OTHER, SHARED

from followup.desk import patients, timeline
from followup.desk.charts import soreness_chart
from followup.desk.errors import DeskError, NotFound
from followup.store.models import AuditEvent, OutboundMessage, Patient
from followup.store.statuses import MessageStatus

ACTOR = "user:front@harbor.test"


def audit(clinics, action: str) -> list[AuditEvent]:
    with clinics.sessions() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_patient_is_found_by_part_of_a_name_a_phone_in_any_format_or_the_clinics_id(clinics):
    harbor, bay = clinics.clinic_id("harbor"), clinics.clinic_id("bay")
    with clinics.sessions() as db:
        by_name = patients.find_patients(db, harbor, "pat")
        assert {p.patient_id for p in by_name} == {"P0", "P1", "P2"}
        assert [p.patient_id for p in patients.find_patients(db, harbor, "TC")] == ["P2"]
        for written in ("(201) 555-0302", "+1 201 555 0302", "2015550302"):
            assert [p.patient_id for p in patients.find_patients(db, harbor, written)] == ["P2"]
        assert [p.patient_id for p in patients.find_patients(db, harbor, "P1")] == ["P1"]
        # a LIKE wildcard typed is a character like any other
        assert patients.find_patients(db, harbor, "%") == []
        assert patients.find_patients(db, harbor, "   ") == []
        # Bay's patient shares P0's number: Harbor's search never shows it, nor Bay's Harbor's
        assert {p.patient_id for p in patients.find_patients(db, harbor, SHARED)} == {"P0", "P1"}
        assert [p.patient_id for p in patients.find_patients(db, bay, SHARED)] == ["P5"]
        assert patients.find_patients(db, bay, "PatC") == []


def test_another_clinics_patient_is_not_found_and_a_view_is_audited(clinics):
    harbor, bay = clinics.clinic_id("harbor"), clinics.clinic_id("bay")
    p5 = clinics.patient_id("P5")
    with clinics.sessions() as db:
        with pytest.raises(NotFound):
            patients.get_patient(db, harbor, p5, now=NOW, actor=ACTOR)
        with pytest.raises(NotFound):
            timeline.patient_timeline(db, harbor, p5, now=NOW, actor=ACTOR)
        with pytest.raises(NotFound):
            patients.update_patient(db, harbor, p5, now=NOW, actor=ACTOR, consent=False)
        seen = patients.get_patient(db, bay, p5, now=NOW, actor="user:bay@bay.test")
        db.commit()
    assert seen.patient_id == "P5" and seen.can_be_texted
    [event] = audit(clinics, "patient.view")
    assert (event.clinic_id, event.subject) == (bay, f"patient:{p5}")
    assert event.actor == "user:bay@bay.test"
    assert event.detail is None


def test_the_timeline_shows_texts_with_events_replies_with_their_reading_and_the_chart(clinics):
    harbor, p2 = clinics.clinic_id("harbor"), clinics.patient_id("P2")
    clinics.update_text("P2", "aftercare", status=MessageStatus.SENT, sent_at=DONE)
    for step, days in (("checkin_24h", 1), ("checkin_72h", 3)):
        clinics.update_text("P2", step, status=MessageStatus.SENT, sent_at=DONE + timedelta(days))
    clinics.receive("6", OTHER, sid="SMday2", now=DONE + timedelta(days=1, hours=1))
    clinics.receive("2", OTHER, sid="SMday3", now=DONE + timedelta(days=3, hours=1))
    clinics.receive("STOP", OTHER, sid="SMstop", now=DONE + timedelta(days=3, hours=2))
    with clinics.sessions() as db:
        seen = timeline.patient_timeline(db, harbor, p2, now=NOW, actor=ACTOR)
        db.commit()
    assert [s.session_id for s in seen.sessions] == ["S2"]
    steps = {t.step: t for t in seen.texts}
    assert steps["checkin_24h"].status == MessageStatus.SENT
    assert [(r.kind, r.score) for r in seen.replies][:2] == [("score", 6), ("score", 2)]
    assert seen.replies[-1].kind == "opt_out" and seen.replies[-1].body == "STOP"
    assert [p.score for p in seen.chart.points] == [6, 2]
    assert "<title" in seen.chart.svg and "<desc" in seen.chart.svg
    assert "first 6, latest 2" in seen.chart.summary
    assert seen.patient.opted_out
    whats = [c.what for c in seen.consent]
    assert "opted out" in whats and "opted out (current)" in whats
    assert len(audit(clinics, "patient.view")) == 1


def test_the_chart_escapes_what_it_is_given_and_draws_an_empty_state():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    chart = soreness_chart([], ZoneInfo("UTC"), title="<script>alert(1)</script>")
    assert "<script>" not in chart.svg and "&lt;script&gt;" in chart.svg
    assert "No scores yet" in chart.svg
    one = soreness_chart([(datetime(2026, 3, 1, tzinfo=UTC), 14)], ZoneInfo("UTC"))
    assert [p.score for p in one.points] == [10]  # kept on the scale


def test_staff_change_consent_language_and_zone_and_record_an_opt_out(clinics):
    harbor, p0 = clinics.clinic_id("harbor"), clinics.patient_id("P0")
    with clinics.sessions() as db:
        with pytest.raises(DeskError) as bad:
            patients.update_patient(db, harbor, p0, now=NOW, actor=ACTOR, locale="english")
        assert bad.value.field == "locale"
        with pytest.raises(DeskError) as bad:
            patients.update_patient(db, harbor, p0, now=NOW, actor=ACTOR, timezone="Mars/Base")
        assert bad.value.field == "timezone"
        changed = patients.update_patient(
            db, harbor, p0, now=NOW, actor=ACTOR, consent=False, locale="es",
            timezone="America/Chicago",
        )  # fmt: skip
        db.commit()
    assert (changed.consent, changed.locale, changed.timezone) == (False, "es", "America/Chicago")
    assert changed.consent_method == "staff" and changed.consent_at == NOW
    [event] = audit(clinics, "patient.update")
    assert "consent=False" in event.detail and SHARED not in event.detail
    with clinics.sessions() as db:
        done = patients.update_patient(db, harbor, p0, now=NOW, actor=ACTOR, opted_out=True)
        db.commit()
        assert done.opted_out and "staff" in done.opted_out_how
        waiting = db.scalars(
            select(OutboundMessage.status).where(OutboundMessage.patient_id == p0)
        ).all()
        assert MessageStatus.SCHEDULED not in waiting
        with pytest.raises(DeskError) as bad:
            patients.update_patient(db, harbor, p0, now=NOW, actor=ACTOR, opted_out=False)
        assert bad.value.field == "opted_out"
        assert db.get(Patient, p0).opted_out_at is not None
