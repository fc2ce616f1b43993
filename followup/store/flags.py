"""Flags (``flags``): a reply staff must look at, opened by the webhook and acknowledged by
a named person.

Opening one is on the webhook's hot path, so its statement is built once, at import.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, text, update
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
