"""Read-only views for staff: the outbox, flags, staff alerts and patients' replies (CLI today,
the dashboard later). Rows are plain dicts, times ISO 8601 UTC; the queries are the store's
(:mod:`followup.store.listings`), what staff may see of each row is decided here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from followup.staff.redact import redact
from followup.store import listings, planning
from followup.store.statuses import AlertChannel


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
    rows = []
    for msg, slug, session_ext, patient_ext in listings.outbox(
        db, status=status, clinic_slug=clinic_slug, limit=limit
    ):
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
    """Flags in ``status``, newest first. No message text: the reply is ``reply_id``, the
    outbox text a flag of the outbox is about (held back, unanswered) is ``message_id``."""
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
            "message_id": flag.message_id,
        }
        for flag, slug, first_name, external_id in listings.flags(
            db, status=status, clinic_slug=clinic_slug
        )
    ]


def alert_rows(db: Session, *, status: str | None = None) -> list[dict[str, Any]]:
    """Staff alerts, newest first; Apprise URLs redacted (they carry tokens)."""
    return [
        {
            "id": a.id,
            "flag_id": a.flag_id,
            "channel": a.channel,
            "destination": (
                a.destination if a.channel == AlertChannel.SMS else redact(a.destination)
            ),
            "status": a.status,
            "attempts": a.attempts,
            "next_attempt_at": _iso(a.next_attempt_at),
            "sent_at": _iso(a.sent_at),
            "last_error": a.last_error,
        }
        for a in listings.alerts(db, status=status)
    ]


def reply_rows(
    db: Session, *, clinic_slug: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Texts patients sent, newest first, with how each was read and what we answered."""
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
        for m, slug, external_id in listings.replies(db, clinic_slug=clinic_slug, limit=limit)
    ]


def unplannable_sessions(
    db: Session, *, clinic_slug: str | None = None, limit: int = 20
) -> tuple[int, list[dict[str, Any]]]:
    """Sessions the planner set aside (their data cannot be planned), the latest first:
    how many in all, and up to ``limit`` as dicts (clinic, session_id, error)."""
    count, rows = planning.unplannable(db.connection(), clinic_slug=clinic_slug, limit=limit)
    return count, [
        {"clinic": slug, "session_id": session_id, "error": error}
        for slug, session_id, error in rows
    ]
