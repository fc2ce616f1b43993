"""One clinic's sessions as staff and the clinic's system address them, by the clinic's own
session id: the session with its patient, its texts, cancelling it, and the clinic's facts an
intake row is checked against.

Scoped like every staff read: each function takes the clinic's id, and another clinic's
session is not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from followup.store.models import Clinic, OutboundMessage, Patient, TreatmentSession
from followup.store.outbox.machine import move_each
from followup.store.outbox.staff_texts import STAFF_TEMPLATE
from followup.store.statuses import MessageStatus, SessionStatus


def clinic_facts(db: Session, clinic_id: int) -> Row[Any] | None:
    """What an intake row of the clinic is checked against: id, slug, country, timezone,
    care_plan, phone, from_number."""
    return db.execute(
        select(
            Clinic.id, Clinic.slug, Clinic.country, Clinic.timezone, Clinic.care_plan,
            Clinic.phone, Clinic.from_number, Clinic.send_window_start, Clinic.send_window_end,
        ).where(Clinic.id == clinic_id)
    ).first()  # fmt: skip


def session_of_clinic(
    db: Session, clinic_id: int, external_id: str
) -> tuple[TreatmentSession, Patient] | None:
    """The clinic's session with its own id ``external_id`` and its patient, or None."""
    row = db.execute(
        select(TreatmentSession, Patient)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(
            TreatmentSession.clinic_id == clinic_id,
            TreatmentSession.external_id == external_id,
        )
    ).first()
    return (row[0], row[1]) if row else None


def texts_of_session(db: Session, clinic_id: int, session_id: int) -> Sequence[OutboundMessage]:
    """The texts of one of the clinic's sessions (row id), soonest first."""
    query = (
        select(OutboundMessage)
        .where(OutboundMessage.clinic_id == clinic_id, OutboundMessage.session_id == session_id)
        .order_by(OutboundMessage.send_at, OutboundMessage.id)
    )
    return db.scalars(query).all()


def recent_sessions_of_patient(
    db: Session, clinic_id: int, patient_id: int, since: datetime
) -> Sequence[TreatmentSession]:
    """The patient's sessions completed since ``since`` (what the planner weighs together)."""
    query = select(TreatmentSession).where(
        TreatmentSession.clinic_id == clinic_id,
        TreatmentSession.patient_id == patient_id,
        TreatmentSession.completed_at >= since,
    )
    return db.scalars(query.order_by(TreatmentSession.completed_at)).all()


def texts_of_patient(db: Session, clinic_id: int, patient_id: int) -> Sequence[OutboundMessage]:
    """Every text of the clinic's patient (for the caps and what is already planned)."""
    query = select(OutboundMessage).where(
        OutboundMessage.clinic_id == clinic_id, OutboundMessage.patient_id == patient_id
    )
    return db.scalars(query).all()


def cancel(
    db: Session, clinic_id: int, session_id: int, *, now: datetime, reason: str, actor: str
) -> int:
    """Mark the clinic's session cancelled (planned again, so a later import restoring it
    revives its texts) and skip its texts still waiting, each with an event. Returns the
    texts skipped. A staff text filed under the session is not the session's plan: it stays
    (:mod:`followup.store.outbox.staff_texts`)."""
    db.execute(
        update(TreatmentSession)
        .where(TreatmentSession.id == session_id, TreatmentSession.clinic_id == clinic_id)
        .values(status=SessionStatus.CANCELLED, plan_pending=True, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    waiting = select(OutboundMessage.id).where(
        OutboundMessage.clinic_id == clinic_id,
        OutboundMessage.session_id == session_id,
        OutboundMessage.status == MessageStatus.SCHEDULED,
        OutboundMessage.template_key != STAFF_TEMPLATE,
    )
    return move_each(
        db,
        waiting,
        MessageStatus.SCHEDULED,
        MessageStatus.SKIPPED,
        at=now,
        reason=reason,
        actor=actor,
    )
