"""The planner's side of the outbox: the rows it reads to plan a patient, the texts it adds,
and the pending texts it moves (new time, skipped, revived).

The planner hands over its decisions as they are (anything with the attributes of
:class:`PlannedText`); the rows are built here, so the outbox's columns are named in the
store alone. Everything is written in the planner's transaction, set-based where the volume
is (new rows and their events through :func:`~followup.store.engine.bulk_insert`: ``COPY`` on
PostgreSQL, one executemany on SQLite), one guarded UPDATE per moved text (few per run).

A pending text is only moved while it is still in the state the planner read, so a text a
dispatcher has claimed meanwhile is never pulled back; a change of status must be a move the
state machine allows (:data:`~followup.store.outbox.machine.ALLOWED`), and each one writes
its ``message_events`` row. A new row carries its own birth record (status, reason,
``created_at``); no event is written for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Row, bindparam, or_, select, update

from followup.store.engine import bulk_insert
from followup.store.models import MessageEvent, OutboundMessage
from followup.store.outbox.machine import ALLOWED, TransitionError
from followup.store.outbox.staff_texts import STAFF_TEMPLATE
from followup.store.statuses import MessageStatus

S = MessageStatus
#: statuses after which a patient has been texted (the text went out or is going out now)
TEXTED = (S.SENDING, S.SENT, S.DELIVERED, S.UNDELIVERED)
ACTOR = "planner"


class PlannedText(Protocol):
    """The wanted state of one ``(session, step)`` row, as the planner decided it."""

    session_id: int
    step: str
    template: str
    priority: int
    due_at: datetime
    send_at: datetime
    expires_at: datetime
    status: str
    reason: str | None


def planned_rows(
    conn: Connection, patient_ids: Sequence[int], session_ids: Sequence[int], since: datetime
) -> list[Row]:
    """The patients' outbox rows that matter to their plan: those of ``session_ids`` and
    every text due or sent from ``since`` on (the caps count them). Plain rows with the
    columns of :data:`PLANNED_COLUMNS`."""
    return conn.execute(
        _PLANNED_ROWS, {"patient_ids": patient_ids, "session_ids": session_ids, "since": since}
    ).all()


def texted_patients(conn: Connection, patient_ids: Sequence[int]) -> set[int]:
    """Which of ``patient_ids`` have ever had a text of a plan (any session, any time). A
    staff text does not count: it does not say who is texting or how to stop, so a patient
    whom only staff have texted still gets the plan's introducing step first."""
    return set(conn.scalars(_TEXTED_PATIENTS, {"patient_ids": patient_ids}))


def write_plan(
    conn: Connection,
    births: Iterable[tuple[PlannedText, int, int, str]],
    moves: Iterable[tuple[Row, PlannedText]],
    *,
    at: datetime,
) -> int:
    """Write one batch of planning: ``births`` are new texts ``(decision, clinic id, patient
    id, locale)``; ``moves`` are ``(row as read by planned_rows, decision)`` for texts whose
    planned state changed. Returns how many of the moves were made (a text claimed meanwhile
    is no longer the planner's to move).

    Raises :class:`TransitionError` for a change of status the state machine refuses (a bug
    of the planner, never bad input)."""
    events: list[dict[str, Any]] = []
    moved = sum(_move(conn, old, d, at, events) for old, d in moves)
    bulk_insert(
        conn,
        OutboundMessage.__table__,
        [
            {
                "clinic_id": clinic_id,
                "session_id": d.session_id,
                "patient_id": patient_id,
                "step": d.step,
                "template_key": d.template,
                "locale": locale,
                "priority": d.priority,
                "due_at": d.due_at,
                "send_at": d.send_at,
                "expires_at": d.expires_at,
                "status": d.status,
                "reason": d.reason,
                "attempts": 0,
                "created_at": at,
                "updated_at": at,
            }
            for d, clinic_id, patient_id, locale in births
        ],
    )
    bulk_insert(conn, MessageEvent.__table__, events)
    return moved


def _move(
    conn: Connection, old: Row, d: PlannedText, at: datetime, events: list[dict[str, Any]]
) -> bool:
    """Move one text to its new planned state, only if it is still in the state we read;
    queue the event that records it (a change of status or of sending time)."""
    if old.status != d.status and d.status not in ALLOWED[old.status]:
        raise TransitionError(f"message {old.id}: {old.status} -> {d.status} is not allowed")
    result = conn.execute(
        _MOVE,
        {
            "b_id": old.id,
            "b_from": old.status,
            "b_status": d.status,
            "b_send_at": d.send_at,
            "b_due_at": d.due_at,
            "b_expires_at": d.expires_at,
            "b_reason": d.reason,
            "b_template": d.template,
            "b_priority": d.priority,
            "b_at": at,
        },
    )
    if result.rowcount != 1:
        return False  # claimed by a dispatcher meanwhile: it is no longer ours to move
    if old.status != d.status:
        reason = d.reason or "re-planned"
    elif old.send_at != d.send_at:
        reason = f"moved to {d.send_at.isoformat()}"
    else:
        return True  # a new reason, template or window: the row says so, no move to record
    events.append(
        {
            "message_id": old.id,
            "from_status": old.status,
            "to_status": d.status,
            "at": at,
            "reason": reason,
            "actor": ACTOR,
        }
    )
    return True


_t = OutboundMessage.__table__
#: what the planner reads of a patient's outbox rows
PLANNED_COLUMNS = (
    _t.c.id,
    _t.c.patient_id,
    _t.c.session_id,
    _t.c.step,
    _t.c.status,
    _t.c.send_at,
    _t.c.sent_at,
    _t.c.reason,
    _t.c.template_key,
    _t.c.due_at,
    _t.c.expires_at,
    _t.c.priority,
)
_PLANNED_ROWS = select(*PLANNED_COLUMNS).where(
    _t.c.patient_id.in_(bindparam("patient_ids", expanding=True)),
    or_(
        _t.c.session_id.in_(bindparam("session_ids", expanding=True)),
        _t.c.send_at >= bindparam("since"),
        _t.c.sent_at >= bindparam("since"),
    ),
)
_TEXTED_PATIENTS = (
    select(_t.c.patient_id)
    .where(
        _t.c.patient_id.in_(bindparam("patient_ids", expanding=True)),
        _t.c.status.in_(TEXTED),
        _t.c.template_key != STAFF_TEMPLATE,
    )
    .distinct()
)
_MOVE = (
    update(_t)
    .where(_t.c.id == bindparam("b_id"), _t.c.status == bindparam("b_from"))
    .values(
        status=bindparam("b_status"),
        send_at=bindparam("b_send_at"),
        due_at=bindparam("b_due_at"),
        expires_at=bindparam("b_expires_at"),
        reason=bindparam("b_reason"),
        template_key=bindparam("b_template"),
        priority=bindparam("b_priority"),
        updated_at=bindparam("b_at"),
    )
)
