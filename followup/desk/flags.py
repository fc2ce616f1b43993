"""Open flags as staff see them, most urgent first, and their acknowledgement.

Emergencies come before clinic-today flags, then call-backs, then reviews; within a kind
the oldest first, because the one waiting longest is the one most likely missed. An
acknowledgement names the person (their login) and may carry a note; it is audited in
the same transaction, and it stops the flag's escalation (an acknowledged flag is no
longer open, and the escalation only looks at open ones)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from followup.access import audit
from followup.desk.errors import DeskError, NotFound
from followup.store import flags as flag_rows
from followup.store import listings
from followup.store.statuses import FlagKind, FlagStatus

URGENCY = {FlagKind.EMERGENCY: 0, FlagKind.CLINIC_TODAY: 1, FlagKind.CALLBACK: 2,
           FlagKind.REVIEW: 3}  # fmt: skip
MAX_NOTE = 1000


@dataclass(frozen=True)
class FlagView:
    id: int
    kind: str
    reason: str
    created_at: datetime
    age: timedelta
    patient_id: int | None
    first_name: str | None
    external_id: str | None
    #: what the patient wrote, when a reply raised it (staff eyes only)
    reply: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None


def flags(
    db: Session, clinic_id: int, now: datetime, *, status: str = FlagStatus.OPEN,
    flag_id: int | None = None, limit: int | None = None,
) -> list[FlagView]:  # fmt: skip
    """The clinic's flags in ``status`` (every open one: no limit drops a flag from the
    worklist): open ones most urgent first, others newest first."""
    rows = listings.clinic_flags(db, clinic_id, status=status, flag_id=flag_id, limit=limit)
    views = [
        FlagView(f.id, f.kind, f.reason, f.created_at, now - f.created_at, f.patient_id, first,
                 ext, body, f.acknowledged_by, f.acknowledged_at)
        for f, first, ext, body in rows
    ]  # fmt: skip
    if status == FlagStatus.OPEN:
        views.sort(key=lambda v: (URGENCY.get(v.kind, 9), v.created_at))
    return views


def acknowledge(
    db: Session, clinic_id: int, flag_id: int, *, note: str, now: datetime, actor: str
) -> None:
    """Acknowledge an open flag of this clinic; NotFound for another clinic's, DeskError
    when it was acknowledged already (by whoever was first)."""
    note = " ".join((note or "").split())[:MAX_NOTE]
    who = actor.removeprefix("user:")
    if not flag_rows.acknowledge_flag(db, flag_id, by=who, now=now, clinic_id=clinic_id):
        if flags(db, clinic_id, now, status=FlagStatus.ACKNOWLEDGED, flag_id=flag_id):
            raise DeskError("flag", "it was acknowledged already")
        raise NotFound("flag")
    audit.record(db, actor=actor, action="flag.ack", now=now, clinic_id=clinic_id,
                 subject=f"flag:{flag_id}", detail=note or None)  # fmt: skip
