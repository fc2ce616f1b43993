"""A clinic's patients as staff look them up and read them: the search, one patient's
record, and everything their timeline shows (sessions, texts with their events and
receipts, replies, flags, the audit events about them), and the changes staff make to a
patient's settings.

Every function takes the clinic's id and filters by it: a patient of another clinic is not
found (None, or nothing in a list), never returned. Staff read one patient at a time, so
statements are built per call; none of this is on a hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.orm import Session

from followup.store.account_models import AuditEvent
from followup.store.models import (
    DeliveryReceipt,
    Flag,
    InboundMessage,
    MessageEvent,
    OutboundMessage,
    Patient,
    TreatmentSession,
)
from followup.store.patients import MAX_CONSENT_METHOD

#: the most patients one search returns (staff narrow it with more letters)
SEARCH_LIMIT = 50


def _like_escaped(text: str) -> str:
    """``text`` for a LIKE pattern with ``\\`` as the escape: a ``%`` or ``_`` a staff
    member types is matched as itself."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    db: Session,
    clinic_id: int,
    *,
    name: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
    limit: int = SEARCH_LIMIT,
) -> Sequence[Patient]:
    """The clinic's patients whose first name contains ``name`` (any case), whose phone is
    ``phone`` (E.164) or whose own id is ``external_id``; any one of them matching is
    enough. By first name, then id."""
    found = []
    if name:
        pattern = f"%{_like_escaped(name.lower())}%"
        found.append(func.lower(Patient.first_name).like(pattern, escape="\\"))
    if phone:
        found.append(Patient.phone == phone)
    if external_id:
        found.append(Patient.external_id == external_id)
    if not found:
        return []
    query = (
        select(Patient)
        .where(Patient.clinic_id == clinic_id, or_(*found))
        .order_by(Patient.first_name, Patient.external_id)
        .limit(limit)
    )
    return db.scalars(query).all()


def patient(db: Session, clinic_id: int, patient_id: int) -> Patient | None:
    """The clinic's patient with row id ``patient_id``, or None (also for another clinic's)."""
    return db.scalar(
        select(Patient).where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
    )


def patient_by_external_id(db: Session, clinic_id: int, external_id: str) -> Patient | None:
    """The clinic's patient whose own id is ``external_id``, or None."""
    return db.scalar(
        select(Patient).where(Patient.clinic_id == clinic_id, Patient.external_id == external_id)
    )


def sessions_of(db: Session, clinic_id: int, patient_id: int) -> Sequence[TreatmentSession]:
    """The patient's sessions, newest first."""
    query = (
        select(TreatmentSession)
        .where(TreatmentSession.clinic_id == clinic_id, TreatmentSession.patient_id == patient_id)
        .order_by(TreatmentSession.completed_at.desc(), TreatmentSession.id.desc())
    )
    return db.scalars(query).all()


def texts_of(
    db: Session, clinic_id: int, patient_id: int
) -> list[tuple[OutboundMessage, str, list[MessageEvent], list[DeliveryReceipt]]]:
    """The patient's texts, soonest first, each with its session's own id, its status
    events (in order) and the delivery receipts the carrier sent for it."""
    rows = db.execute(
        select(OutboundMessage, TreatmentSession.external_id)
        .join(TreatmentSession, TreatmentSession.id == OutboundMessage.session_id)
        .where(OutboundMessage.clinic_id == clinic_id, OutboundMessage.patient_id == patient_id)
        .order_by(OutboundMessage.send_at, OutboundMessage.id)
    ).all()
    ids = [m.id for m, _ in rows]
    events: dict[int, list[MessageEvent]] = {i: [] for i in ids}
    receipts: dict[int, list[DeliveryReceipt]] = {i: [] for i in ids}
    if ids:
        for event in db.scalars(
            select(MessageEvent)
            .where(MessageEvent.message_id.in_(ids))
            .order_by(MessageEvent.at, MessageEvent.id)
        ):
            events[event.message_id].append(event)
        by_sid = {m.provider_sid: m.id for m, _ in rows if m.provider_sid}
        query = select(DeliveryReceipt).where(
            or_(
                DeliveryReceipt.message_id.in_(ids),
                DeliveryReceipt.provider_sid.in_(list(by_sid) or [""]),
            )
        )
        for receipt in db.scalars(query.order_by(DeliveryReceipt.received_at)):
            owner = receipt.message_id or by_sid.get(receipt.provider_sid)
            if owner in receipts:
                receipts[owner].append(receipt)
    return [(m, session, events[m.id], receipts[m.id]) for m, session in rows]


def replies_of(db: Session, clinic_id: int, patient_id: int) -> Sequence[InboundMessage]:
    """What the patient wrote to this clinic, oldest first."""
    query = (
        select(InboundMessage)
        .where(InboundMessage.clinic_id == clinic_id, InboundMessage.patient_id == patient_id)
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    return db.scalars(query).all()


def flags_of(db: Session, clinic_id: int, patient_id: int) -> Sequence[Flag]:
    """The flags raised about the patient, oldest first."""
    query = (
        select(Flag)
        .where(Flag.clinic_id == clinic_id, Flag.patient_id == patient_id)
        .order_by(Flag.created_at, Flag.id)
    )
    return db.scalars(query).all()


def scores_of(db: Session, clinic_id: int, patient_id: int) -> list[Row[tuple[datetime, int]]]:
    """(received_at, score) of each soreness score the patient replied, oldest first."""
    query = (
        select(InboundMessage.received_at, InboundMessage.score)
        .where(
            InboundMessage.clinic_id == clinic_id,
            InboundMessage.patient_id == patient_id,
            InboundMessage.score.is_not(None),
        )
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    return list(db.execute(query).all())


def audit_of(
    db: Session, clinic_id: int, subject: str, *, actions: Sequence[str] | None = None
) -> Sequence[AuditEvent]:
    """The clinic's audit events about ``subject`` (``patient:12``), oldest first; only
    ``actions`` when given."""
    query = select(AuditEvent).where(
        AuditEvent.clinic_id == clinic_id, AuditEvent.subject == subject
    )
    if actions:
        query = query.where(AuditEvent.action.in_(list(actions)))
    return db.scalars(query.order_by(AuditEvent.at, AuditEvent.id)).all()


def set_fields(
    db: Session,
    clinic_id: int,
    patient_id: int,
    now: datetime,
    *,
    consent_method: str,
    **values: Any,
) -> bool:
    """Change the patient's ``locale``, ``timezone`` and ``consent`` (those given). Consent's
    time and method change only when its value does, as with an import. False when the
    clinic has no such patient."""
    row = patient(db, clinic_id, patient_id)
    if row is None:
        return False
    changes = {k: v for k, v in values.items() if k in ("locale", "timezone", "consent")}
    if "consent" in changes and bool(changes["consent"]) != bool(row.consent):
        changes["consent_at"] = now
        changes["consent_method"] = consent_method[:MAX_CONSENT_METHOD]
    if changes:
        db.execute(
            update(Patient)
            .where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
            .values(**changes, updated_at=now)
            .execution_options(synchronize_session="fetch")
        )
    return True


def replan_patient(db: Session, clinic_id: int, patient_id: int) -> int:
    """Mark the patient's sessions as waiting to be planned, so the planner's next tick
    applies a change of consent, zone or language to the texts still waiting. Returns how
    many."""
    return db.execute(
        update(TreatmentSession)
        .where(TreatmentSession.clinic_id == clinic_id, TreatmentSession.patient_id == patient_id)
        .values(plan_pending=True)
        .execution_options(synchronize_session=False)
    ).rowcount


def not_textable(db: Session, clinic_id: int) -> tuple[Sequence[Patient], Sequence[Patient]]:
    """The clinic's patients who opted out (latest first), and those whose number cannot
    receive texts (latest first): the two lists no text goes to."""
    opted = select(Patient).where(Patient.clinic_id == clinic_id, Patient.opted_out_at.is_not(None))
    unusable = select(Patient).where(
        Patient.clinic_id == clinic_id, Patient.phone_unusable_at.is_not(None)
    )
    return (
        db.scalars(opted.order_by(Patient.opted_out_at.desc(), Patient.id)).all(),
        db.scalars(unusable.order_by(Patient.phone_unusable_at.desc(), Patient.id)).all(),
    )
