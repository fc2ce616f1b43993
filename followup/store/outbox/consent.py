"""The texts a patient's consent stops or restores: skipping a patient's pending texts (an
opt-out, a number that cannot receive texts) and scheduling again those an opt-out skipped.

Both go through the state machine (:func:`~followup.store.outbox.machine.transition`), one
text at a time, so each move writes its ``message_events`` row and a text that moved
meanwhile (claimed by a worker) is left to whoever moved it. Rare (a STOP, a carrier
verdict), so nothing here is set-based.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Select, select
from sqlalchemy.orm import Session

from followup.store.models import OutboundMessage
from followup.store.outbox.machine import transition
from followup.store.statuses import MessageStatus


def skip_pending(
    db: Session | Connection, patient_id: int, *, now: datetime, reason: str, actor: str
) -> int:
    """Skip every text of the patient still ``scheduled``, with ``reason``. Returns how many
    moved."""
    pending = select(OutboundMessage.id).where(
        OutboundMessage.patient_id == patient_id,
        OutboundMessage.status == MessageStatus.SCHEDULED,
    )
    return _move(db, pending, MessageStatus.SCHEDULED, MessageStatus.SKIPPED, now, reason, actor)


def reschedule_skipped(
    db: Session | Connection,
    patient_id: int,
    *,
    skipped_because: str,
    now: datetime,
    reason: str,
    actor: str,
) -> int:
    """Schedule again the patient's texts skipped with a reason starting ``skipped_because``
    whose window is still open (``expires_at`` after ``now``). Returns how many moved."""
    revivable = select(OutboundMessage.id).where(
        OutboundMessage.patient_id == patient_id,
        OutboundMessage.status == MessageStatus.SKIPPED,
        OutboundMessage.reason.startswith(skipped_because, autoescape=True),
        OutboundMessage.expires_at > now,
    )
    return _move(db, revivable, MessageStatus.SKIPPED, MessageStatus.SCHEDULED, now, reason, actor)


def _move(
    db: Session | Connection,
    ids: Select[tuple[int]],
    from_status: MessageStatus,
    to_status: MessageStatus,
    now: datetime,
    reason: str,
    actor: str,
) -> int:
    """Move each text ``ids`` selects, one transition (and event) each; how many moved."""
    return sum(
        transition(db, message_id, from_status, to_status, at=now, reason=reason, actor=actor)
        for message_id in db.scalars(ids).all()
    )
