"""Texts that wait because their clinic has no staff alert destination.

A clinic whose staff nobody can alert must not text its patients: a patient who answers
"I can't breathe" would be told the clinic knows, and nobody would. Its texts stay
``scheduled`` (the dispatcher does not claim them, :func:`~followup.store.outbox.claims.claim_due`
leaves the clinic out) and say why in ``reason``, so ``followup outbox`` shows it. A text
whose window ends while it waits is skipped as any late text is; when the clinic gets a
destination, the reason is cleared and the dispatcher sends what is still in its window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from followup.store.models import OutboundMessage
from followup.store.outbox.machine import transition
from followup.store.statuses import MessageStatus

#: the reason a waiting text carries (also how it is found again to be released)
NO_ALERT_DESTINATION = (
    "waiting: the clinic has no staff alert destination (followup clinics set-alerts)"
)

_T = OutboundMessage.__table__
_MARK = (
    update(_T)
    .where(
        _T.c.clinic_id.in_(bindparam("clinics", expanding=True)),
        _T.c.status == MessageStatus.SCHEDULED,
        _T.c.send_at <= bindparam("now"),
        _T.c.expires_at >= bindparam("now"),
        or_(_T.c.reason.is_(None), _T.c.reason != NO_ALERT_DESTINATION),
    )
    .values(reason=NO_ALERT_DESTINATION)
)


def hold_due(
    db: Session, clinic_ids: Sequence[int], *, now: datetime, actor: str
) -> tuple[int, int]:
    """Mark the due texts of ``clinic_ids`` (clinics without an alert destination) as
    waiting, and skip those whose window has ended. Returns ``(newly marked, skipped)``."""
    if not clinic_ids:
        return 0, 0
    marked = db.execute(_MARK, {"clinics": list(clinic_ids), "now": now}).rowcount
    late = db.execute(
        select(OutboundMessage.id, OutboundMessage.expires_at).where(
            OutboundMessage.clinic_id.in_(list(clinic_ids)),
            OutboundMessage.status == MessageStatus.SCHEDULED,
            OutboundMessage.expires_at < now,
        )
    ).all()
    skipped = sum(
        transition(
            db,
            message_id,
            MessageStatus.SCHEDULED,
            MessageStatus.SKIPPED,
            at=now,
            reason=f"too late: window ended {expires_at:%Y-%m-%d %H:%M} UTC while the clinic "
            "had no staff alert destination",
            actor=actor,
        )
        for message_id, expires_at in late
    )
    return marked, skipped


def release_waiting(db: Session, clinic_id: int) -> int:
    """The clinic has an alert destination now: its waiting texts lose the reason and go
    with the dispatcher's next claim (those past their window are skipped then). Returns
    how many were waiting."""
    return db.execute(
        update(_T)
        .where(
            _T.c.clinic_id == clinic_id,
            _T.c.status == MessageStatus.SCHEDULED,
            _T.c.reason == NO_ALERT_DESTINATION,
        )
        .values(reason=None)
    ).rowcount
