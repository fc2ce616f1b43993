"""Flags (``flags``): a reply staff must look at, opened by the webhook and acknowledged by
a named person; or a text of the outbox staff must know about (a safety text a limit held
back, a nudge nobody answered), opened by the planner or the nudges.

Opening one is on the webhook's hot path, so its statement is built once, at import. A flag
of the outbox is unique on its text (``message_id``): however many workers and re-plans
see the same text, one flag is opened, and the one that opened it queues its alerts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, func, literal, text, update
from sqlalchemy.orm import Session

from followup.store.models import Flag, UTCDateTime
from followup.store.statuses import FlagStatus

#: longest name kept for who acknowledged a flag (the column's size)
MAX_ACKNOWLEDGED_BY = 120

_INSERT = text(
    "INSERT INTO flags (clinic_id, patient_id, inbound_id, kind, reason, status, created_at)"
    f" VALUES (:clinic_id, :patient_id, :inbound_id, :kind, :reason, '{FlagStatus.OPEN}', :now)"
    " RETURNING id"
).bindparams(bindparam("now", type_=UTCDateTime))


def open_flag(
    conn: Connection,
    *,
    clinic_id: int | None,
    patient_id: int | None,
    inbound_id: int,
    kind: str,
    reason: str,
    now: datetime,
) -> int:
    """Open a flag of ``kind`` on reply ``inbound_id``; its id."""
    params = {
        "clinic_id": clinic_id,
        "patient_id": patient_id,
        "inbound_id": inbound_id,
        "kind": kind,
        "reason": reason,
        "now": now,
    }
    return conn.execute(_INSERT, params).scalar_one()


# SQLite reads "INSERT ... SELECT ... ON CONFLICT" only with a WHERE in the SELECT: it has one
_FOR_TEXT = (
    "INSERT INTO flags (clinic_id, patient_id, message_id, kind, reason, status, created_at)"
    " SELECT m.clinic_id, m.patient_id, m.id, :kind, :reason, '" + FlagStatus.OPEN + "', :now"
    " FROM outbound_messages m WHERE {which}"
    " ON CONFLICT (message_id) DO NOTHING RETURNING id, clinic_id"
)
_FOR_MESSAGE_SQL = text(_FOR_TEXT.format(which="m.id = :message_id")).bindparams(
    bindparam("now", type_=UTCDateTime)
)
_FOR_STEP_SQL = text(
    _FOR_TEXT.format(which="m.session_id = :session_id AND m.step = :step")
).bindparams(bindparam("now", type_=UTCDateTime))


def flag_text(
    conn: Connection,
    *,
    kind: str,
    reason: str,
    now: datetime,
    message_id: int | None = None,
    session_id: int | None = None,
    step: str | None = None,
) -> tuple[int, int] | None:
    """Open a flag of ``kind`` on one outbox text, named by its id or by ``(session_id,
    step)``; ``(flag id, clinic id)``, or None when that text has its flag already (or does
    not exist)."""
    if message_id is not None:
        stmt, params = _FOR_MESSAGE_SQL, {"message_id": message_id}
    else:
        stmt, params = _FOR_STEP_SQL, {"session_id": session_id, "step": step}
    row = conn.execute(stmt, {**params, "kind": kind, "reason": reason, "now": now}).first()
    return None if row is None else (row.id, row.clinic_id)


def acknowledge_flag(
    db: Session | Connection,
    flag_id: int,
    *,
    by: str,
    now: datetime,
    clinic_id: int | None = None,
) -> bool:
    """Mark an open flag acknowledged by a named person. False when it is not open (or not
    this clinic's): a flag is acknowledged once, by whoever was first."""
    q = update(Flag).where(Flag.id == flag_id, Flag.status == FlagStatus.OPEN)
    if clinic_id is not None:
        q = q.where(Flag.clinic_id == clinic_id)
    values = {
        "status": FlagStatus.ACKNOWLEDGED,
        "acknowledged_by": by[:MAX_ACKNOWLEDGED_BY],
        "acknowledged_at": now,
    }
    return db.execute(q.values(**values)).rowcount == 1


#: a flag still on the staff's list: nobody has it yet, or somebody has it in hand
_UNCLOSED = (FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED)


def assign_flag(
    db: Session, flag_id: int, *, to: str | None, now: datetime, clinic_id: int
) -> bool:
    """Give an unclosed flag of this clinic to a staff member (``None``: to nobody). False
    when there is no such flag or it is closed. Assigning does not acknowledge: the flag
    escalates until someone says they have it in hand."""
    q = update(Flag).where(
        Flag.id == flag_id, Flag.clinic_id == clinic_id, Flag.status.in_(_UNCLOSED)
    )
    values = {"assigned_to": to, "assigned_at": now if to else None}
    return db.execute(q.values(**values)).rowcount == 1


def close_flag(db: Session, flag_id: int, *, by: str, now: datetime, clinic_id: int) -> bool:
    """Close an unclosed flag of this clinic. A flag closed straight from open counts as
    acknowledged by the same person at the same moment (its escalation stops, and the
    record says who took it). False when there is no such flag or it is closed already."""
    who = by[:MAX_ACKNOWLEDGED_BY]
    q = update(Flag).where(
        Flag.id == flag_id, Flag.clinic_id == clinic_id, Flag.status.in_(_UNCLOSED)
    )
    values = {
        "status": FlagStatus.CLOSED,
        "closed_by": who,
        "closed_at": now,
        "acknowledged_by": func.coalesce(Flag.acknowledged_by, who),
        "acknowledged_at": func.coalesce(Flag.acknowledged_at, literal(now, UTCDateTime())),
    }
    return db.execute(q.values(**values)).rowcount == 1
