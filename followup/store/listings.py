"""The read-only listings staff see (``followup outbox``, ``flags``, ``alerts``,
``replies``; the dashboard later), across tables: each joins a table to the clinic's and
patient's own ids, so a row says whose it is without another query.

Rows come back as the database has them; :mod:`followup.staff.reports` turns them into what
staff read (times in ISO 8601, Apprise URLs redacted). The base queries are built once; a
filter or a limit is added per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from followup.store.models import (
    Clinic,
    Flag,
    InboundMessage,
    OutboundMessage,
    Patient,
    StaffAlert,
    TreatmentSession,
)

_OUTBOX = (
    select(OutboundMessage, Clinic.slug, TreatmentSession.external_id, Patient.external_id)
    .join(Clinic, Clinic.id == OutboundMessage.clinic_id)
    .join(TreatmentSession, TreatmentSession.id == OutboundMessage.session_id)
    .join(Patient, Patient.id == OutboundMessage.patient_id)
    .order_by(OutboundMessage.send_at, OutboundMessage.id)
)
_FLAGS = (
    select(Flag, Clinic.slug, Patient.first_name, Patient.external_id)
    .outerjoin(Clinic, Clinic.id == Flag.clinic_id)
    .outerjoin(Patient, Patient.id == Flag.patient_id)
    .order_by(Flag.created_at.desc(), Flag.id.desc())
)
_ALERTS = select(StaffAlert).order_by(StaffAlert.created_at.desc(), StaffAlert.id.desc())
_REPLIES = (
    select(InboundMessage, Clinic.slug, Patient.external_id)
    .outerjoin(Clinic, Clinic.id == InboundMessage.clinic_id)
    .outerjoin(Patient, Patient.id == InboundMessage.patient_id)
    .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
)


def outbox(
    db: Session,
    *,
    status: str | None = None,
    clinic_slug: str | None = None,
    limit: int | None = None,
) -> Sequence[Row[Any]]:
    """``(message, clinic slug, session's external id, patient's external id)`` for texts in
    the outbox, soonest first; all of them unless filtered."""
    q = _OUTBOX
    if status:
        q = q.where(OutboundMessage.status == status)
    if clinic_slug:
        q = q.where(Clinic.slug == clinic_slug)
    if limit:
        q = q.limit(limit)
    return db.execute(q).all()


def flags(db: Session, *, status: str, clinic_slug: str | None = None) -> Sequence[Row[Any]]:
    """``(flag, clinic slug, patient's first name, patient's external id)`` for flags in
    ``status``, newest first; the clinic and patient are None when the sender was unknown."""
    q = _FLAGS.where(Flag.status == status)
    if clinic_slug:
        q = q.where(Clinic.slug == clinic_slug)
    return db.execute(q).all()


def clinic_flags(
    db: Session, clinic_id: int, *, status: str | None, limit: int | None = None,
    flag_id: int | None = None,
) -> Sequence[Row[Any]]:  # fmt: skip
    """As :func:`flags`, for one clinic by id (and one flag, with ``flag_id``; any status
    with ``status=None``), plus what the patient wrote (for staff eyes only), newest first.
    No limit unless asked: the open flags are the staff's worklist, and none may fall off
    its end."""
    q = (
        select(Flag, Patient.first_name, Patient.external_id, InboundMessage.body)
        .outerjoin(Patient, Patient.id == Flag.patient_id)
        .outerjoin(InboundMessage, InboundMessage.id == Flag.inbound_id)
        .where(Flag.clinic_id == clinic_id)
        .order_by(Flag.created_at.desc(), Flag.id.desc())
    )
    if status is not None:
        q = q.where(Flag.status == status)
    if flag_id is not None:
        q = q.where(Flag.id == flag_id)
    if limit is not None:
        q = q.limit(limit)
    return db.execute(q).all()


def alerts(db: Session, *, status: str | None = None) -> Sequence[StaffAlert]:
    """Staff alerts, newest first; all of them unless ``status`` is given."""
    q = _ALERTS.where(StaffAlert.status == status) if status else _ALERTS
    return db.scalars(q).all()


def replies(db: Session, *, clinic_slug: str | None = None, limit: int = 50) -> Sequence[Row[Any]]:
    """``(reply, clinic slug, patient's external id)`` for the latest ``limit`` texts
    received, newest first."""
    q = _REPLIES.limit(limit)
    if clinic_slug:
        q = q.where(Clinic.slug == clinic_slug)
    return db.execute(q).all()


def clinic_replies(
    db: Session,
    clinic_id: int,
    *,
    kind: str | None = None,
    urgency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> tuple[list[Row[Any]], int]:
    """The replies that reached the clinic (``received_at`` in [since, until)), newest first:
    ``(reply, patient's first name, patient's external id)``, the patient None for a number
    the clinic has no record of; and how many match in all (for paging). No limit with
    ``limit=None`` (an export)."""
    where = [InboundMessage.clinic_id == clinic_id]
    if kind:
        where.append(InboundMessage.kind == kind)
    if urgency:
        where.append(InboundMessage.urgency == urgency)
    if since is not None:
        where.append(InboundMessage.received_at >= since)
    if until is not None:
        where.append(InboundMessage.received_at < until)
    total = db.scalar(select(func.count()).select_from(InboundMessage).where(*where)) or 0
    q = (
        select(InboundMessage, Patient.first_name, Patient.external_id)
        .outerjoin(Patient, Patient.id == InboundMessage.patient_id)
        .where(*where)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .offset(offset)
    )
    if limit is not None:
        q = q.limit(limit)
    return list(db.execute(q).all()), total


def flags_of_replies(db: Session, clinic_id: int, reply_ids: Sequence[int]) -> Sequence[Flag]:
    """The clinic's flags raised by the replies ``reply_ids``, oldest first."""
    if not reply_ids:
        return []
    q = select(Flag).where(Flag.clinic_id == clinic_id, Flag.inbound_id.in_(list(reply_ids)))
    return db.scalars(q.order_by(Flag.created_at, Flag.id)).all()


def reply_times(
    db: Session, clinic_id: int, patient_ids: Sequence[int], *, since: datetime
) -> list[Row[Any]]:
    """``(id, patient_id, received_at)`` of the patients' replies to the clinic from ``since``
    on, oldest first: which reply a later staff text follows."""
    if not patient_ids:
        return []
    q = select(InboundMessage.id, InboundMessage.patient_id, InboundMessage.received_at).where(
        InboundMessage.clinic_id == clinic_id,
        InboundMessage.patient_id.in_(list(patient_ids)),
        InboundMessage.received_at >= since,
    )
    return list(db.execute(q.order_by(InboundMessage.received_at, InboundMessage.id)).all())


def clinic_flags_between(
    db: Session,
    clinic_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Row[Any]]:
    """Every flag of the clinic raised in [since, until), oldest first, for an export:
    ``(flag, patient's first name, patient's external id, what the patient wrote)``."""
    q = (
        select(Flag, Patient.first_name, Patient.external_id, InboundMessage.body)
        .outerjoin(Patient, Patient.id == Flag.patient_id)
        .outerjoin(InboundMessage, InboundMessage.id == Flag.inbound_id)
        .where(Flag.clinic_id == clinic_id)
    )
    if since is not None:
        q = q.where(Flag.created_at >= since)
    if until is not None:
        q = q.where(Flag.created_at < until)
    return list(db.execute(q.order_by(Flag.created_at, Flag.id)).all())
