"""Free-form texts staff write to a patient (an answer from the replies inbox or the API),
as outbox rows: the dispatcher sends them with every claim, retry, recovery and state move
a planned text gets, so a staff answer is crash-safe and its trail is in ``message_events``.

A staff text is told apart by its template key, :data:`STAFF_TEMPLATE`; its body is written
by staff and stored on the row when it is added, and the dispatcher sends that body instead
of rendering a template. Its step is :data:`STAFF_STEP_PREFIX` and a random token, because
``(session_id, step)`` is unique and a patient may be answered any number of times.

``session_id`` is NOT NULL in the outbox, and every patient came in with a session (CSV,
API, FHIR all write one), so a staff text is filed under the patient's latest session; the
session is only where the row hangs. The rules that come from the session (it being
cancelled, the care plan's caps and windows) are not a staff text's: the dispatcher's check
leaves them out for it (:func:`followup.outbound.send_checks.skip_reason`), a cancelled
session does not skip it (:func:`followup.store.session_records.cancel`), and the planner,
which plans only its plan's steps, never moves it.

The creation writes one ``message_events`` row (no status before, ``scheduled`` after) with
the staff member as actor: who sent a text is read from there.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.orm import Session

from followup.store.models import (
    Clinic,
    MessageEvent,
    OutboundMessage,
    Patient,
    TreatmentSession,
)
from followup.store.statuses import MessageStatus

#: the template key of every staff text (no such template exists: the body is stored)
STAFF_TEMPLATE = "staff_text"
#: a staff text's step: this and a random token (unique within its session)
STAFF_STEP_PREFIX = "staff:"
#: the reason of a staff text's birth event
WRITTEN = "written by staff"


def is_staff_text(template_key: str | None) -> bool:
    """Whether an outbox row is a staff text (its body is staff's, not a template's)."""
    return template_key == STAFF_TEMPLATE


def recipient(db: Session, clinic_id: int, patient_id: int) -> Row[Any] | None:
    """What a staff text to the clinic's patient (row id) is checked and timed against: the
    patient's consent, opt-out, unusable number, locale and zone, their latest session's
    id, and the clinic's zone, send window, default locale, emergency number and whether
    anyone can be alerted. None when the clinic has no such patient."""
    latest = (
        select(TreatmentSession.id)
        .where(TreatmentSession.patient_id == Patient.id, TreatmentSession.clinic_id == clinic_id)
        .order_by(TreatmentSession.completed_at.desc(), TreatmentSession.id.desc())
        .limit(1)
        .correlate(Patient)
        .scalar_subquery()
    )
    query = (
        select(
            Patient.id,
            Patient.external_id,
            Patient.first_name,
            Patient.consent,
            Patient.opted_out_at,
            Patient.phone_unusable_at,
            Patient.locale,
            Patient.timezone.label("patient_timezone"),
            latest.label("session_id"),
            Clinic.timezone.label("clinic_timezone"),
            Clinic.send_window_start,
            Clinic.send_window_end,
            Clinic.default_locale,
            Clinic.emergency_number,
            Clinic.oncall_phone,
            Clinic.alert_urls,
        )
        .join(Clinic, Clinic.id == Patient.clinic_id)
        .where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
    )
    return db.execute(query).first()


def add_staff_text(
    db: Session,
    *,
    clinic_id: int,
    patient_id: int,
    session_id: int,
    body: str,
    locale: str,
    send_at: datetime,
    expires_at: datetime,
    now: datetime,
    actor: str,
) -> int:
    """Add a staff text, ``scheduled`` at ``send_at`` with its ``body``, and its birth event
    naming ``actor``. Returns its id."""
    message_id = db.execute(
        insert(OutboundMessage)
        .values(
            clinic_id=clinic_id,
            session_id=session_id,
            patient_id=patient_id,
            step=STAFF_STEP_PREFIX + secrets.token_hex(8),
            template_key=STAFF_TEMPLATE,
            locale=locale,
            priority=0,
            due_at=now,
            send_at=send_at,
            expires_at=expires_at,
            status=MessageStatus.SCHEDULED,
            attempts=0,
            body=body,
            created_at=now,
            updated_at=now,
        )
        .returning(OutboundMessage.id)
    ).scalar_one()
    db.execute(
        insert(MessageEvent).values(
            message_id=message_id,
            from_status=None,
            to_status=MessageStatus.SCHEDULED,
            at=now,
            reason=WRITTEN,
            actor=actor,
        )
    )
    return message_id


def staff_texts_of(
    db: Session, clinic_id: int, patient_ids: Sequence[int], *, since: datetime | None = None
) -> list[Row[Any]]:
    """The staff texts to the clinic's ``patient_ids`` (written from ``since`` on), oldest
    first: id, patient_id, body, status, send_at, sent_at, created_at and who wrote it
    (``written_by``, the actor of its birth event)."""
    if not patient_ids:
        return []
    written_by = (
        select(MessageEvent.actor)
        .where(MessageEvent.message_id == OutboundMessage.id, MessageEvent.from_status.is_(None))
        .order_by(MessageEvent.id)
        .limit(1)
        .correlate(OutboundMessage)
        .scalar_subquery()
    )
    query = select(
        OutboundMessage.id, OutboundMessage.patient_id, OutboundMessage.body,
        OutboundMessage.status, OutboundMessage.reason, OutboundMessage.send_at,
        OutboundMessage.sent_at, OutboundMessage.created_at, written_by.label("written_by"),
    ).where(
        OutboundMessage.clinic_id == clinic_id,
        OutboundMessage.patient_id.in_(list(patient_ids)),
        OutboundMessage.template_key == STAFF_TEMPLATE,
    )  # fmt: skip
    if since is not None:
        query = query.where(OutboundMessage.created_at >= since)
    return list(db.execute(query.order_by(OutboundMessage.created_at, OutboundMessage.id)).all())
