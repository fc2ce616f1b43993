"""Read-only views of the outbox for staff (CLI today, the dashboard later)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.models import Clinic, OutboundMessage, Patient, TreatmentSession


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
