"""What staff do to a clinic's texts: list them (the upcoming ones, or any by status and
time), look one up with what its last check needs, cancel one that still waits, and bring
one forward to now.

The moves go through the state machine (:func:`~followup.store.outbox.machine.transition`),
so each writes its ``message_events`` row with the staff member as actor, and a text a
worker claimed meanwhile is left to the worker (False). Every read is filtered by the
clinic: another clinic's text is not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from followup.store.models import Clinic, OutboundMessage, Patient, TreatmentSession
from followup.store.outbox.machine import transition
from followup.store.statuses import MessageStatus

_LISTED = (
    select(
        OutboundMessage,
        TreatmentSession.external_id.label("session_external_id"),
        Patient.external_id.label("patient_external_id"),
        Patient.first_name,
    )
    .join(TreatmentSession, TreatmentSession.id == OutboundMessage.session_id)
    .join(Patient, Patient.id == OutboundMessage.patient_id)
)


def listed(
    db: Session,
    clinic_id: int,
    *,
    statuses: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Row[Any]], int]:
    """The clinic's texts whose ``send_at`` is in [since, until), soonest first, with their
    session's and patient's own ids and the patient's first name; and how many match in
    all (for paging)."""
    where = [OutboundMessage.clinic_id == clinic_id]
    if statuses:
        where.append(OutboundMessage.status.in_(list(statuses)))
    if since is not None:
        where.append(OutboundMessage.send_at >= since)
    if until is not None:
        where.append(OutboundMessage.send_at < until)
    total = db.scalar(select(func.count()).select_from(OutboundMessage).where(*where)) or 0
    rows = db.execute(
        _LISTED.where(*where)
        .order_by(OutboundMessage.send_at, OutboundMessage.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def text_of_clinic(db: Session, clinic_id: int, message_id: int) -> Row[Any] | None:
    """The clinic's text ``message_id`` with what deciding on it needs: the row, its
    session's status, regions and own id, the patient's consent, opt-out, unusable number,
    zone and own id, and the clinic's zone, send window, care plan and whether anyone can
    be alerted. None when the clinic has no such text."""
    query = (
        select(
            OutboundMessage,
            TreatmentSession.status.label("session_status"),
            TreatmentSession.regions,
            TreatmentSession.external_id.label("session_external_id"),
            Patient.external_id.label("patient_external_id"),
            Patient.first_name,
            Patient.consent,
            Patient.opted_out_at,
            Patient.phone_unusable_at,
            Patient.timezone.label("patient_timezone"),
            Clinic.timezone.label("clinic_timezone"),
            Clinic.send_window_start,
            Clinic.send_window_end,
            Clinic.care_plan,
            Clinic.oncall_phone,
            Clinic.alert_urls,
        )
        .join(TreatmentSession, TreatmentSession.id == OutboundMessage.session_id)
        .join(Patient, Patient.id == OutboundMessage.patient_id)
        .join(Clinic, Clinic.id == OutboundMessage.clinic_id)
        .where(OutboundMessage.id == message_id, OutboundMessage.clinic_id == clinic_id)
        # the row as it is now, after a move made through the state machine's UPDATE
        .execution_options(populate_existing=True)
    )
    return db.execute(query).first()


def cancel_waiting(db: Session, message_id: int, *, now: datetime, reason: str, actor: str) -> bool:
    """Skip a text that is still ``scheduled``, with ``reason``; False when it is not (a
    worker claimed it, or it moved otherwise). A planner run never revives it: its reason
    is none of those a re-plan may undo."""
    return transition(
        db,
        message_id,
        MessageStatus.SCHEDULED,
        MessageStatus.SKIPPED,
        at=now,
        reason=reason,
        actor=actor,
    )


def bring_forward(db: Session, message_id: int, *, now: datetime, reason: str, actor: str) -> bool:
    """Make a ``scheduled`` text due now: the dispatcher's next claim takes it and applies
    every check of a send (consent, opt-out, sending hours). False when it is not waiting."""
    return transition(
        db,
        message_id,
        MessageStatus.SCHEDULED,
        MessageStatus.SCHEDULED,
        at=now,
        reason=reason,
        actor=actor,
        send_at=now,
    )
