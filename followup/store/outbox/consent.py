"""The texts a patient's consent stops or restores: skipping a patient's pending texts (an
opt-out, a number that cannot receive texts) and scheduling again those an opt-out skipped.

Both go through the state machine (:func:`~followup.store.outbox.machine.transition`), one
text at a time, so each move writes its ``message_events`` row and a text that moved
meanwhile (claimed by a worker) is left to whoever moved it. Rare (a STOP, a carrier
verdict), so nothing here is set-based.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from followup.store.models import OutboundMessage
from followup.store.outbox.machine import move_each
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
    return move_each(
        db,
        pending,
        MessageStatus.SCHEDULED,
        MessageStatus.SKIPPED,
        at=now,
        reason=reason,
        actor=actor,
    )


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
    return move_each(
        db,
        revivable,
        MessageStatus.SKIPPED,
        MessageStatus.SCHEDULED,
        at=now,
        reason=reason,
        actor=actor,
    )
