"""Sessions put by the clinic's own id, cancelled, and previewed, on both databases: the
import's rules, every bad field named with nothing written, idempotent, clinic-scoped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from support.webhooks import DONE, NOW

from followup.desk import sessions
from followup.desk.errors import NotFound
from followup.desk.sessions import InvalidFields, SessionInput
from followup.store.models import AuditEvent, OutboundMessage, Patient, TreatmentSession
from followup.store.statuses import MessageStatus

ACTOR = "key:fu_abcd"
GOOD = SessionInput(
    patient_id="API1", phone="(201) 555-0377", first_name="Lucía", consent=True,
    completed_at=DONE, locale="es", timezone="America/Chicago", regions=("Neck", "upper back"),
)  # fmt: skip


def counts(clinics) -> tuple[int, int]:
    with clinics.sessions() as db:
        return (
            db.scalar(select(func.count()).select_from(Patient)),
            db.scalar(select(func.count()).select_from(TreatmentSession)),
        )


def test_a_session_is_created_then_updated_idempotently_with_its_patient(clinics):
    harbor = clinics.clinic_id("harbor")
    with clinics.sessions() as db:
        created, view, warnings = sessions.put_session(db, harbor, "V1", GOOD, now=NOW, actor=ACTOR)
        db.commit()
    assert created and view.patient_id == "API1" and view.plan_pending
    assert view.regions == ("neck", "upper_back") and warnings == []
    with clinics.sessions() as db:
        again, view2, _ = sessions.put_session(db, harbor, "V1", GOOD, now=NOW, actor=ACTOR)
        db.commit()
        patient = db.scalars(select(Patient).where(Patient.external_id == "API1")).one()
        assert (patient.phone, patient.locale, patient.timezone) == (
            "+12015550377", "es", "America/Chicago",
        )  # fmt: skip
        assert patient.consent and patient.consent_method == "api"
        actions = db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert not again and view2 == view
    assert actions == ["session.create", "session.update"]


def test_bad_fields_are_each_named_and_nothing_is_written(clinics):
    harbor = clinics.clinic_id("harbor")
    before = counts(clinics)
    bad = SessionInput(
        patient_id="API2", phone="12", first_name="Ann", consent=True,
        completed_at=NOW + timedelta(days=1), locale="spanish", timezone="Nowhere/City",
    )  # fmt: skip
    with clinics.sessions() as db:
        with pytest.raises(InvalidFields) as refused:
            sessions.put_session(db, harbor, "V2", bad, now=NOW, actor=ACTOR)
        db.commit()
    fields = {field for field, _ in refused.value.problems}
    assert {"phone", "locale", "completed_at", "timezone"} <= fields
    assert counts(clinics) == before


def test_a_session_keeps_its_patient_and_another_clinics_session_is_not_found(clinics):
    harbor, bay = clinics.clinic_id("harbor"), clinics.clinic_id("bay")
    before = counts(clinics)
    moved = SessionInput(**{**GOOD.__dict__, "patient_id": "P1"})
    with clinics.sessions() as db:
        with pytest.raises(InvalidFields) as refused:
            sessions.put_session(db, harbor, "S0", moved, now=NOW, actor=ACTOR)
        assert refused.value.field == "patient_id"
        for call in (
            lambda: sessions.get_session(db, bay, "S0"),
            lambda: sessions.cancel_session(db, bay, "S0", now=NOW, actor=ACTOR),
            lambda: sessions.plan_preview(db, bay, "S0", now=NOW),
        ):
            with pytest.raises(NotFound):
                call()
    assert counts(clinics) == before


def test_cancelling_a_session_skips_its_waiting_texts(clinics):
    harbor = clinics.clinic_id("harbor")
    with clinics.sessions() as db:
        view, skipped = sessions.cancel_session(db, harbor, "S0", now=NOW, actor=ACTOR)
        db.commit()
        statuses = db.scalars(
            select(OutboundMessage.status)
            .join(TreatmentSession)
            .where(TreatmentSession.external_id == "S0", TreatmentSession.clinic_id == harbor)
        ).all()
    assert view.status == "cancelled" and skipped > 0
    assert set(statuses) == {MessageStatus.SKIPPED}


def test_the_plan_preview_says_what_would_go_when_and_writes_nothing(clinics):
    harbor = clinics.clinic_id("harbor")
    clinics.update_text("P0", "aftercare", status=MessageStatus.SENT, sent_at=DONE)
    with clinics.sessions() as db:
        before = db.scalars(select(OutboundMessage.send_at).order_by(OutboundMessage.id)).all()
        plan = sessions.plan_preview(db, harbor, "S0", now=NOW)
        db.commit()
        after = db.scalars(select(OutboundMessage.send_at).order_by(OutboundMessage.id)).all()
    steps = {p.step: p for p in plan}
    assert steps["aftercare"].status == MessageStatus.SENT and not steps["aftercare"].preview
    assert steps["checkin_24h"].status == MessageStatus.SCHEDULED and steps["checkin_24h"].preview
    assert steps["checkin_24h"].send_at > NOW
    assert before == after
