"""Escalations' SQL: the open flags that may be due to escalate, and marking a flag
escalated so that it escalates once.

When a flag is due is decided outside (:mod:`followup.staff.escalation`, with the clinic's
opening hours); these statements find the candidates with what that decision needs, and
mark one. The mark is an UPDATE guarded by "still open and not yet escalated", run in the
transaction that queues the escalation's alerts: two workers looking at the same flag both
try, one row changes, and only that worker queues alerts (PostgreSQL re-checks the guard
after the first worker's commit; SQLite's write transactions take turns).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from followup.store.models import Clinic, Flag
from followup.store.statuses import FlagKind, FlagStatus

_CANDIDATE_COLUMNS = (
    Flag.id,
    Flag.kind,
    Flag.created_at,
    Flag.clinic_id,
    Clinic.timezone,
    Clinic.opening_hours,
    Clinic.review_alert_minutes,
    Clinic.emergency_second_minutes,
    Clinic.clinic_today_second_minutes,
    Clinic.second_contact,
    Clinic.oncall_phone,
    Clinic.alert_urls,
)
_REVIEW = (
    select(*_CANDIDATE_COLUMNS)
    .join(Clinic, Clinic.id == Flag.clinic_id)
    .where(
        Flag.status == FlagStatus.OPEN,
        Flag.kind == FlagKind.REVIEW,
        Flag.review_alerted_at.is_(None),
    )
    .order_by(Flag.created_at, Flag.id)
)
_URGENT = (
    select(*_CANDIDATE_COLUMNS)
    .join(Clinic, Clinic.id == Flag.clinic_id)
    .where(
        Flag.status == FlagStatus.OPEN,
        Flag.kind.in_([FlagKind.EMERGENCY, FlagKind.CLINIC_TODAY]),
        Flag.second_contact_at.is_(None),
        Clinic.second_contact.is_not(None),
    )
    .order_by(Flag.created_at, Flag.id)
)


def review_candidates(db: Session, *, raised_before: datetime) -> list[Row[Any]]:
    """Open review flags of a clinic, not yet escalated, raised before ``raised_before``
    (whatever the opening hours, a flag raised later cannot have waited long enough), with
    their clinic's hours, delay and destinations; oldest first."""
    return list(db.execute(_REVIEW.where(Flag.created_at < raised_before)))


def urgent_candidates(db: Session, *, raised_before: datetime) -> list[Row[Any]]:
    """Open emergency and clinic-today flags of a clinic that has a second contact, not yet
    sent to it, raised before ``raised_before``; oldest first."""
    return list(db.execute(_URGENT.where(Flag.created_at < raised_before)))


def _mark(db: Session, flag_id: int, column: Any, now: datetime) -> bool:
    q = (
        update(Flag)
        .where(Flag.id == flag_id, Flag.status == FlagStatus.OPEN, column.is_(None))
        .values({column.key: now})
        .execution_options(synchronize_session=False)
    )
    return db.execute(q).rowcount == 1


def mark_review_alerted(db: Session, flag_id: int, *, now: datetime) -> bool:
    """Record that the overdue review flag's alerts are queued; False when another worker
    did it first or the flag was acknowledged meanwhile."""
    return _mark(db, flag_id, Flag.review_alerted_at, now)


def mark_second_contact(db: Session, flag_id: int, *, now: datetime) -> bool:
    """Record that the urgent flag went to the second contact; False as above."""
    return _mark(db, flag_id, Flag.second_contact_at, now)
