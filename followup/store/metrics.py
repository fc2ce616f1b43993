"""The clinic reports' counts: texts by delivery status, check-ins and their replies, flags
by kind, and how long flags waited for an acknowledgement. What each figure means is
:mod:`followup.desk.metrics`; here are only the statements.

Each statement aggregates in the database (``COUNT`` grouped by period and status or kind),
so a report reads a few dozen rows however many texts a clinic sends. The periods are given
as their edges in UTC (the desk works out a clinic's local days and weeks); a row's period is
a ``CASE`` over those edges, which SQLite and PostgreSQL both run. A median and a 90th
percentile need the rows at one or two ranks only: :func:`ack_seconds_at` reads just those,
numbered by ``ROW_NUMBER()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, case, exists, func, select
from sqlalchemy.orm import Session

from followup.store.models import Flag, InboundMessage, OutboundMessage
from followup.store.replies import CHECKIN_PREFIX
from followup.store.statuses import FlagStatus, ReplyKind

#: replies that do not answer a check-in's question: a STOP, "wrong number"
NOT_ANSWERS = (ReplyKind.OPT_OUT, ReplyKind.WRONG_NUMBER)


def _period(column: Any, edges: Sequence[datetime]) -> ColumnElement[int]:
    """The index of the period ``column`` falls in: 0 for ``[edges[0], edges[1])``, ...
    (rows outside ``[edges[0], edges[-1])`` are filtered out by the caller)."""
    return case(*[(column < edge, i) for i, edge in enumerate(edges[1:])], else_=len(edges) - 1)


def _within(column: Any, edges: Sequence[datetime]) -> ColumnElement[bool]:
    return (column >= edges[0]) & (column < edges[-1])


def texts_by_status(db: Session, clinic_id: int, edges: Sequence[datetime]) -> list[Row[Any]]:
    """``(period, status, count)`` of the clinic's texts the provider accepted
    (``sent_at``) within the edges, by the period of ``sent_at`` and their status now."""
    m = OutboundMessage
    rows = (
        select(_period(m.sent_at, edges).label("period"), m.status.label("status"))
        .where(m.clinic_id == clinic_id, m.sent_at.is_not(None), _within(m.sent_at, edges))
        .subquery()
    )
    q = select(rows.c.period, rows.c.status, func.count().label("n")).group_by(
        rows.c.period, rows.c.status
    )
    return list(db.execute(q))


def checkins_answered(db: Session, clinic_id: int, edges: Sequence[datetime]) -> list[Row[Any]]:
    """``(period, sent, answered)``: the clinic's check-ins (template ``checkin*``) the
    provider accepted within the edges, and how many of them a reply answers (a reply's
    ``in_reply_to``: the patient's latest check-in sent before the reply came), a STOP or a
    "wrong number" not counted as an answer."""
    m, i = OutboundMessage, InboundMessage
    answered = exists().where(i.in_reply_to == m.id, i.kind.not_in(list(NOT_ANSWERS)))
    rows = (
        select(
            _period(m.sent_at, edges).label("period"),
            case((answered, 1), else_=0).label("answered"),
        )
        .where(
            m.clinic_id == clinic_id,
            m.template_key.like(f"{CHECKIN_PREFIX}%"),
            m.sent_at.is_not(None),
            _within(m.sent_at, edges),
        )
        .subquery()
    )
    q = select(
        rows.c.period, func.count().label("sent"), func.sum(rows.c.answered).label("answered")
    ).group_by(rows.c.period)
    return list(db.execute(q))


def flags_by_kind(db: Session, clinic_id: int, edges: Sequence[datetime]) -> list[Row[Any]]:
    """``(period, kind, count)`` of the clinic's flags raised within the edges."""
    rows = (
        select(_period(Flag.created_at, edges).label("period"), Flag.kind.label("kind"))
        .where(Flag.clinic_id == clinic_id, _within(Flag.created_at, edges))
        .subquery()
    )
    q = select(rows.c.period, rows.c.kind, func.count().label("n")).group_by(
        rows.c.period, rows.c.kind
    )
    return list(db.execute(q))


def _seconds_waited(db: Session) -> ColumnElement[float]:
    """Seconds from a flag's raising to its acknowledgement, in the database's own
    arithmetic: SQLite keeps timestamps as text (``julianday`` reads it), PostgreSQL as
    ``timestamptz``."""
    if db.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Flag.acknowledged_at - Flag.created_at)
    return (func.julianday(Flag.acknowledged_at) - func.julianday(Flag.created_at)) * 86400.0


def _acknowledged(clinic_id: int, edges: Sequence[datetime]) -> list[ColumnElement[bool]]:
    return [
        Flag.clinic_id == clinic_id,
        Flag.acknowledged_at.is_not(None),
        _within(Flag.created_at, edges),
    ]


def acknowledged_by_kind(db: Session, clinic_id: int, edges: Sequence[datetime]) -> list[Row[Any]]:
    """``(kind, count)`` of the clinic's flags raised within the edges and acknowledged
    since."""
    q = (
        select(Flag.kind, func.count().label("n"))
        .where(*_acknowledged(clinic_id, edges))
        .group_by(Flag.kind)
    )
    return list(db.execute(q))


def ack_seconds_at(
    db: Session, clinic_id: int, edges: Sequence[datetime], ranks: Sequence[int]
) -> list[Row[Any]]:
    """``(kind, rank, seconds)``: of the flags of :func:`acknowledged_by_kind`, numbered from
    1 by how long each waited (per kind, shortest first), those at ``ranks``."""
    if not ranks:
        return []
    waited = _seconds_waited(db)
    rank = func.row_number().over(partition_by=Flag.kind, order_by=(waited, Flag.id))
    numbered = (
        select(
            Flag.kind.label("kind"),
            rank.label("rank"),
            waited.label("seconds"),
        )
        .where(*_acknowledged(clinic_id, edges))
        .subquery()
    )
    q = select(numbered.c.kind, numbered.c.rank, numbered.c.seconds).where(
        numbered.c.rank.in_(sorted(set(ranks)))
    )
    return list(db.execute(q))


def open_by_kind(db: Session, clinic_id: int) -> list[Row[Any]]:
    """``(kind, count, oldest)``: every open flag of the clinic, whenever it was raised."""
    q = (
        select(Flag.kind, func.count().label("n"), func.min(Flag.created_at).label("oldest"))
        .where(Flag.clinic_id == clinic_id, Flag.status == FlagStatus.OPEN)
        .group_by(Flag.kind)
    )
    return list(db.execute(q))
