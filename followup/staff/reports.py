"""Read-only views for staff: the outbox, flags, staff alerts and patients' replies (CLI today,
the dashboard later). Rows are plain dicts, times ISO 8601 UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.staff.alerts import redact
from followup.store.models import (
    Clinic,
    Flag,
    InboundMessage,
    OutboundMessage,
    Patient,
    StaffAlert,
    TreatmentSession,
)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t else None


def outbox_rows(
    db: Session,
    *,
    status: str | None = None,
    clinic_slug: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Outbox rows as plain dicts (times in ISO 8601 UTC), soonest first.

    Keys: clinic, session_id, patient_id (the clinic's own ids), step, template, locale, status,
    due_at, send_at, expires_at, sent_at, attempts, reason, error_code, provider_sid, body.
    """
    q = (
        select(OutboundMessage, Clinic.slug, TreatmentSession.external_id, Patient.external_id)
        .join(Clinic, Clinic.id == OutboundMessage.clinic_id)
        .join(TreatmentSession, TreatmentSession.id == OutboundMessage.session_id)
        .join(Patient, Patient.id == OutboundMessage.patient_id)
        .order_by(OutboundMessage.send_at, OutboundMessage.id)
    )
    if status:
        q = q.where(OutboundMessage.status == status)
    if clinic_slug:
        q = q.where(Clinic.slug == clinic_slug)
    if limit:
        q = q.limit(limit)
    rows = []
    for msg, slug, session_ext, patient_ext in db.execute(q):
        rows.append(
            {
                "clinic": slug,
                "session_id": session_ext,
                "patient_id": patient_ext,
                "step": msg.step,
                "template": msg.template_key,
                "locale": msg.locale,
                "status": msg.status,
                "due_at": _iso(msg.due_at),
                "send_at": _iso(msg.send_at),
                "expires_at": _iso(msg.expires_at),
                "sent_at": _iso(msg.sent_at),
                "attempts": msg.attempts,
                "reason": msg.reason,
                "error_code": msg.error_code,
                "provider_sid": msg.provider_sid,
                "body": msg.body,
            }
        )
    return rows


def flag_rows(db: Session, *, status: str, clinic_slug: str | None = None) -> list[dict[str, Any]]:
    """Flags in ``status``, newest first. No message text: the reply is ``reply_id``."""
    q = (
        select(Flag, Clinic.slug, Patient.first_name, Patient.external_id)
        .outerjoin(Clinic, Clinic.id == Flag.clinic_id)
        .outerjoin(Patient, Patient.id == Flag.patient_id)
        .where(Flag.status == status)
        .order_by(Flag.created_at.desc(), Flag.id.desc())
    )
    if clinic_slug:
        q = q.where(Clinic.slug == clinic_slug)
    return [
        {
            "id": flag.id,
            "clinic": slug,
            "patient": external_id,
            "first_name": first_name,
            "kind": flag.kind,
            "reason": flag.reason,
            "status": flag.status,
            "created_at": _iso(flag.created_at),
            "acknowledged_by": flag.acknowledged_by,
            "acknowledged_at": _iso(flag.acknowledged_at),
            "reply_id": flag.inbound_id,
        }
        for flag, slug, first_name, external_id in db.execute(q)
    ]


def alert_rows(db: Session, *, status: str | None = None) -> list[dict[str, Any]]:
    """Staff alerts, newest first; Apprise URLs redacted (they carry tokens)."""
    q = select(StaffAlert).order_by(StaffAlert.created_at.desc(), StaffAlert.id.desc())
    if status:
        q = q.where(StaffAlert.status == status)
    return [
        {
            "id": a.id,
            "flag_id": a.flag_id,
            "channel": a.channel,
            "destination": a.destination if a.channel == "sms" else redact(a.destination),
            "status": a.status,
            "attempts": a.attempts,
            "next_attempt_at": _iso(a.next_attempt_at),
            "sent_at": _iso(a.sent_at),
            "last_error": a.last_error,
        }
        for a in db.scalars(q)
    ]


def reply_rows(
    db: Session, *, clinic_slug: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Texts patients sent, newest first, with how each was read and what we answered."""
    q = (
        select(InboundMessage, Clinic.slug, Patient.external_id)
        .outerjoin(Clinic, Clinic.id == InboundMessage.clinic_id)
        .outerjoin(Patient, Patient.id == InboundMessage.patient_id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(limit)
    )
    if clinic_slug:
        q = q.where(Clinic.slug == clinic_slug)
    return [
        {
            "id": m.id,
            "received_at": _iso(m.received_at),
            "clinic": slug,
            "patient": external_id,
            "from": m.from_number,
            "body": m.body,
            "kind": m.kind,
            "urgency": m.urgency,
            "score": m.score,
            "matched": m.matched,
            "reply": m.reply_body,
        }
        for m, slug, external_id in db.execute(q)
    ]
