"""The outbox's state machine and the SQL that claims due texts: one reviewed place.

::

    scheduled --claim--> sending --accepted--> sent --callback--> delivered | undelivered | failed
        ^                   |  \\--transient error--> scheduled (attempts+1, later send_at)
        |                   \\--permanent error--> failed (error code kept)
        \\-- deferred (quiet hours, caps)      skipped (opted out, no consent, cancelled, too late)

Every change goes through :func:`transition`, which refuses moves the machine does not allow,
only updates a row still in the state the caller saw, and writes a ``message_events`` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from followup.models import MessageEvent, OutboundMessage

ALLOWED: dict[str, frozenset[str]] = {
    "scheduled": frozenset({"sending", "skipped", "scheduled"}),
    "sending": frozenset({"sent", "failed", "scheduled", "skipped", "delivered", "undelivered"}),
    "sent": frozenset({"delivered", "undelivered", "failed"}),
    "delivered": frozenset(),
    "undelivered": frozenset({"delivered"}),
    "failed": frozenset({"delivered"}),
    "skipped": frozenset({"scheduled"}),
}
#: states whose row keeps the reason of the last transition (why skipped, failed, retried)
_EXPLAINED = frozenset({"skipped", "failed", "scheduled", "undelivered"})


class TransitionError(RuntimeError):
    """A status change the state machine does not allow (a bug, not bad input)."""


def transition(
    db: Session,
    message_id: int,
    from_status: str,
    to_status: str,
    *,
    at: datetime,
    reason: str | None = None,
    actor: str = "system",
    **values: Any,
) -> bool:
    """Move one message from ``from_status`` to ``to_status`` and record the event.

    Returns False (and changes nothing) when the row is no longer in ``from_status``: someone
    else moved it first, and their move stands.
    """
    if to_status not in ALLOWED[from_status]:
        raise TransitionError(f"message {message_id}: {from_status} -> {to_status} is not allowed")
    # The row's reason explains its current state where that needs explaining.
    values.setdefault("reason", reason if to_status in _EXPLAINED else None)
    result = db.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == message_id, OutboundMessage.status == from_status)
        .values(status=to_status, updated_at=at, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    db.execute(
        insert(MessageEvent).values(
            message_id=message_id,
            from_status=from_status,
            to_status=to_status,
            at=at,
            reason=reason,
            actor=actor,
        )
    )
    return True


def claim_due(
    db: Session, *, now: datetime, worker: str, limit: int, lease: timedelta
) -> list[int]:
    """Claim up to ``limit`` due texts for ``worker``: status sending, with a lease.

    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent workers take disjoint rows
    without waiting. SQLite: the transaction already holds the write lock (``BEGIN IMMEDIATE``),
    and the UPDATE is conditional on the status, so a row is claimed once or not at all.
    """
    q = (
        select(OutboundMessage.id)
        .where(OutboundMessage.status == "scheduled", OutboundMessage.send_at <= now)
        .order_by(OutboundMessage.send_at, OutboundMessage.id)
        .limit(limit)
    )
    if db.bind.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    ids: Sequence[int] = db.scalars(q).all()
    claimed = []
    for message_id in ids:
        if transition(
            db,
            message_id,
            "scheduled",
            "sending",
            at=now,
            reason="claimed",
            actor=worker,
            claimed_by=worker,
            claimed_at=now,
            lease_until=now + lease,
            attempts=OutboundMessage.attempts + 1,
        ):
            claimed.append(message_id)
    return claimed
