"""Flags as staff see them, most urgent first, and what staff do with them.

A flag's life: **open** (nobody has said they have it) -> **acknowledged** (a named person
has it in hand) -> **closed** (dealt with). It may be **assigned** to a staff member at any
point before it is closed.

- Emergencies come before clinic-today flags, then call-backs, then reviews; within a kind
  the oldest first, because the one waiting longest is the one most likely missed.
- Acknowledging names the person (their login), may carry a note, and stops the flag's
  escalation (the escalation only looks at open flags). The flag stays on the list, "in
  hand", until it is closed, so one somebody said they would deal with cannot vanish first.
- Assigning does *not* acknowledge: the assignee has not seen it yet, so the flag keeps
  escalating until someone acknowledges it. An acknowledgement by a person with no
  assignee makes them the assignee.
- Closing a flag nobody acknowledged needs a note saying what was done: it is the only
  record that a patient who raised it was looked after.

Every action is audited in the same transaction (``flag.ack``, ``flag.assign``,
``flag.close``), its note in the detail (staff words only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from followup.access import audit
from followup.desk.errors import Conflict, DeskError, NotFound
from followup.store import accounts as account_rows
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
    status: str = FlagStatus.OPEN
    assigned_to: str | None = None
    assigned_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None


def flags(
    db: Session, clinic_id: int, now: datetime, *, status: str | None = FlagStatus.OPEN,
    flag_id: int | None = None, limit: int | None = None,
) -> list[FlagView]:  # fmt: skip
    """The clinic's flags in ``status`` (any status with None; every open or acknowledged
    one: no limit drops a flag from the worklist unless asked): unclosed ones most urgent
    first, closed ones newest first."""
    rows = listings.clinic_flags(db, clinic_id, status=status, flag_id=flag_id, limit=limit)
    views = [
        FlagView(f.id, f.kind, f.reason, f.created_at, now - f.created_at, f.patient_id, first,
                 ext, body, f.acknowledged_by, f.acknowledged_at, f.status, f.assigned_to,
                 f.assigned_at, f.closed_by, f.closed_at)
        for f, first, ext, body in rows
    ]  # fmt: skip
    if status != FlagStatus.CLOSED:
        views.sort(key=lambda v: (URGENCY.get(v.kind, 9), v.created_at))
    return views


def flag(db: Session, clinic_id: int, flag_id: int, now: datetime) -> FlagView:
    """One flag of this clinic, whatever its status; NotFound for another clinic's."""
    found = flags(db, clinic_id, now, status=None, flag_id=flag_id)
    if not found:
        raise NotFound("flag")
    return found[0]


@dataclass(frozen=True)
class FlagStep:
    at: datetime
    who: str
    action: str
    note: str | None


#: how a flag's audited actions read in its history
_ACTIONS = {"flag.ack": "acknowledged", "flag.assign": "assigned", "flag.close": "closed"}


def history(db: Session, clinic_id: int, flag_id: int) -> list[FlagStep]:
    """What staff did with a flag, oldest first, with their notes: the audit log's entries
    for it, so the flag's page shows every note to every member of staff."""
    return [
        FlagStep(e.at, e.actor.removeprefix("user:"), _ACTIONS[e.action], e.detail)
        for e in account_rows.subject_events(db, clinic_id, f"flag:{flag_id}")
        if e.action in _ACTIONS
    ]


def assignees(db: Session, clinic_id: int) -> list[str]:
    """Whom a flag of this clinic may be given to: the staff who can log in to it."""
    return account_rows.clinic_staff_emails(db, clinic_id)


def _note(note: str | None) -> str:
    return " ".join((note or "").split())[:MAX_NOTE]


def _moved_on(db: Session, clinic_id: int, flag_id: int, now: datetime, done: str) -> Conflict:
    """Why an action found no flag to change: it is not this clinic's (NotFound), or
    someone got there first (Conflict, saying what happened to it)."""
    current = flag(db, clinic_id, flag_id, now)  # raises NotFound
    if current.status == FlagStatus.CLOSED:
        return Conflict("flag", f"it was closed already by {current.closed_by}")
    return Conflict("flag", f"it was {done} already by {current.acknowledged_by}")


def acknowledge(
    db: Session, clinic_id: int, flag_id: int, *, note: str, now: datetime, actor: str
) -> None:
    """Acknowledge an open flag of this clinic; NotFound for another clinic's, Conflict
    when it was acknowledged or closed already (by whoever was first)."""
    note = _note(note)
    who = actor.removeprefix("user:")
    if not flag_rows.acknowledge_flag(db, flag_id, by=who, now=now, clinic_id=clinic_id):
        raise _moved_on(db, clinic_id, flag_id, now, "acknowledged")
    if actor.startswith("user:") and flag(db, clinic_id, flag_id, now).assigned_to is None:
        flag_rows.assign_flag(db, flag_id, to=who, now=now, clinic_id=clinic_id)
    audit.record(db, actor=actor, action="flag.ack", now=now, clinic_id=clinic_id,
                 subject=f"flag:{flag_id}", detail=note or None)  # fmt: skip


def assign(
    db: Session, clinic_id: int, flag_id: int, *, to: str | None, now: datetime, actor: str
) -> None:
    """Give a flag that is not closed to one of the clinic's staff (empty: to nobody)."""
    to = (to or "").strip().lower() or None
    if to is not None and to not in assignees(db, clinic_id):
        raise DeskError("assignee", "not a staff member of this clinic who can log in")
    if not flag_rows.assign_flag(db, flag_id, to=to, now=now, clinic_id=clinic_id):
        flag(db, clinic_id, flag_id, now)  # NotFound for another clinic's
        raise Conflict("flag", "it is closed")
    audit.record(db, actor=actor, action="flag.assign", now=now, clinic_id=clinic_id,
                 subject=f"flag:{flag_id}", detail=f"to {to}" if to else "to nobody")  # fmt: skip


def close(
    db: Session, clinic_id: int, flag_id: int, *, note: str, now: datetime, actor: str
) -> None:
    """Close a flag that is dealt with. One nobody acknowledged needs a note."""
    note = _note(note)
    current = flag(db, clinic_id, flag_id, now)
    if current.status == FlagStatus.OPEN and not note:
        raise DeskError("note", "say what was done: nobody acknowledged this flag")
    who = actor.removeprefix("user:")
    if not flag_rows.close_flag(db, flag_id, by=who, now=now, clinic_id=clinic_id):
        raise _moved_on(db, clinic_id, flag_id, now, "closed")
    audit.record(db, actor=actor, action="flag.close", now=now, clinic_id=clinic_id,
                 subject=f"flag:{flag_id}", detail=note or None)  # fmt: skip
