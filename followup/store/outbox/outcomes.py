"""What became of a claimed text that was not accepted: failed, skipped, or back to
``scheduled`` for a later try. (Accepted texts are written in groups by
:func:`~followup.store.outbox.claims.mark_sent`; texts given back unsent by
:func:`~followup.store.outbox.claims.release`.)

Each is one move of the state machine from ``sending``, guarded by the claim: a text another
worker has taken over (its lease ran out) is theirs, and their move stands. Errors are rare
next to sends, so these are single-row transitions, each with its event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from followup.store.models import OutboundMessage
from followup.store.outbox.machine import transition
from followup.store.statuses import MessageStatus

S = MessageStatus
#: how much of a provider's error message a row keeps
ERROR_MESSAGE_CHARS = 500


def fail_claimed(
    db: Session | Connection,
    message_id: int,
    *,
    worker: str,
    at: datetime,
    code: str,
    reason: str,
    detail: str | None = None,
) -> bool:
    """``sending`` -> ``failed``, the error ``code`` and ``detail`` (default: the reason)
    kept on the row. False when ``worker`` no longer holds the claim."""
    return transition(
        db, message_id, S.SENDING, S.FAILED, at=at, reason=reason, actor=worker,
        guard=(OutboundMessage.claimed_by == worker,), error_code=code,
        error_message=(detail or reason)[:ERROR_MESSAGE_CHARS], lease_until=None,
    )  # fmt: skip


def skip_claimed(
    db: Session | Connection, message_id: int, *, worker: str, at: datetime, reason: str
) -> bool:
    """``sending`` -> ``skipped`` (opted out, no consent, cancelled, too late). False when
    ``worker`` no longer holds the claim."""
    return transition(
        db, message_id, S.SENDING, S.SKIPPED, at=at, reason=reason, actor=worker,
        guard=(OutboundMessage.claimed_by == worker,), lease_until=None,
    )  # fmt: skip


def retry_claimed(
    db: Session | Connection,
    message_id: int,
    *,
    worker: str,
    at: datetime,
    send_at: datetime,
    code: str,
    message: str,
    reason: str,
) -> bool:
    """``sending`` -> ``scheduled`` again, due at ``send_at``, the error kept on the row (the
    attempt counts). False when ``worker`` no longer holds the claim."""
    return transition(
        db, message_id, S.SENDING, S.SCHEDULED, at=at, reason=reason, actor=worker,
        guard=(OutboundMessage.claimed_by == worker,), send_at=send_at, lease_until=None,
        error_code=code, error_message=message[:ERROR_MESSAGE_CHARS],
    )  # fmt: skip


def defer_claimed(
    db: Session | Connection,
    message_id: int,
    *,
    worker: str,
    at: datetime,
    send_at: datetime,
    reason: str,
) -> bool:
    """``sending`` -> ``scheduled`` at ``send_at``, the attempt not counted: the text came due
    outside its sending hours (a backlog, a worker that was down overnight) and waits for
    them. False when ``worker`` no longer holds the claim."""
    return transition(
        db, message_id, S.SENDING, S.SCHEDULED, at=at, reason=reason, actor=worker,
        guard=(OutboundMessage.claimed_by == worker,), send_at=send_at, lease_until=None,
        attempts=OutboundMessage.attempts - 1,
    )  # fmt: skip
