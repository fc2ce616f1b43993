"""The outbox's state machine: which moves a text may make, and the event each move writes.

::

    scheduled --claim--> sending --accepted--> sent --callback--> delivered | undelivered | failed
        ^                 |  |  \\--transient error--> scheduled (attempts+1, later send_at)
        |                 |  \\--permanent error--> failed (error code kept)
        |                 \\--lease expired (worker died)--> sending (recovered by another worker)
        \\-- deferred (quiet hours, caps)      skipped (opted out, no consent, cancelled, too late)

Every change goes through :func:`transition`, which refuses moves the machine does not allow,
only updates a row still in the state the caller saw, and writes a ``message_events`` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, insert, text, update
from sqlalchemy.orm import Session

from followup.store.models import MessageEvent, OutboundMessage
from followup.store.statuses import MessageStatus

S = MessageStatus
#: every move the machine allows, from each state; anything else is a bug
ALLOWED: dict[MessageStatus, frozenset[MessageStatus]] = {
    S.SCHEDULED: frozenset({S.SENDING, S.SKIPPED, S.SCHEDULED}),
    S.SENDING: frozenset(
        {S.SENDING, S.SENT, S.FAILED, S.SCHEDULED, S.SKIPPED, S.DELIVERED, S.UNDELIVERED}
    ),
    S.SENT: frozenset({S.DELIVERED, S.UNDELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.UNDELIVERED: frozenset({S.DELIVERED}),
    S.FAILED: frozenset({S.DELIVERED}),
    S.SKIPPED: frozenset({S.SCHEDULED}),
}
#: states whose row keeps the reason of the last transition (why skipped, failed, retried)
_EXPLAINED = frozenset({S.SKIPPED, S.FAILED, S.SCHEDULED, S.UNDELIVERED})


class TransitionError(RuntimeError):
    """A status change the state machine does not allow (a bug, not bad input)."""


def transition(
    db: Session | Connection,
    message_id: int,
    from_status: str,
    to_status: str,
    *,
    at: datetime,
    reason: str | None = None,
    actor: str = "system",
    guard: Sequence[ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """Move one message from ``from_status`` to ``to_status`` and record the event.

    Returns False (and changes nothing) when the row is no longer in ``from_status`` or fails
    a ``guard`` condition (say, still claimed by this worker): someone else moved it first,
    and their move stands.
    """
    if to_status not in ALLOWED[from_status]:
        raise TransitionError(f"message {message_id}: {from_status} -> {to_status} is not allowed")
    # The row's reason explains its current state where that needs explaining.
    values.setdefault("reason", reason if to_status in _EXPLAINED else None)
    result = db.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == message_id, OutboundMessage.status == from_status, *guard)
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


def move_each(
    db: Session | Connection,
    ids: Select[tuple[int]],
    from_status: str,
    to_status: str,
    *,
    at: datetime,
    reason: str,
    actor: str,
) -> int:
    """Move each text ``ids`` selects, one :func:`transition` (and event) each; returns how
    many moved (a text another worker moved first is left to it)."""
    return sum(
        transition(db, message_id, from_status, to_status, at=at, reason=reason, actor=actor)
        for message_id in db.scalars(ids).all()
    )


def add_events(
    conn: Connection,
    events: Sequence[tuple[int, datetime, str | None]],
    from_status: str,
    to_status: str,
    *,
    actor: str,
) -> None:
    """One ``message_events`` row per ``(message id, at, reason)``, all the same move."""
    if not events:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(
            _PG_ADD_EVENTS,
            {
                "ids": [e[0] for e in events],
                "ats": [e[1] for e in events],
                "reasons": [e[2] for e in events],
                "from_status": from_status,
                "to_status": to_status,
                "actor": actor,
            },
        )
    else:
        conn.execute(
            insert(MessageEvent.__table__),
            [
                {
                    "message_id": message_id,
                    "from_status": from_status,
                    "to_status": to_status,
                    "at": at,
                    "reason": reason,
                    "actor": actor,
                }
                for message_id, at, reason in events
            ],
        )


_PG_ADD_EVENTS = text(
    "INSERT INTO message_events (message_id, from_status, to_status, at, reason, actor)"
    " SELECT v.id, :from_status, :to_status, v.at, v.reason, :actor"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[]),"
    " CAST(:reasons AS text[])) AS v(id, at, reason)"
)
