"""The nudges' side of the outbox: sent check-ins still without a nudge, writing nudges,
the nudges to follow up for staff, and skipping a patient's waiting nudge when they reply.

A nudge is an outbox row like any other (step ``nudge``, one per session: the unique
``(session_id, step)`` makes writing it twice a no-op, whichever worker tries), sent by the
dispatcher and moved by the state machine. A new row carries its birth record; every move
after it goes through :func:`~followup.store.outbox.machine.transition` and writes its
event. Both scans read from partial indexes (``ix_outbound_messages_sent_template``,
``ix_outbound_messages_nudges``), so a tick with nothing to do costs two index probes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, text
from sqlalchemy.orm import Session

from followup.store.models import Clinic, OutboundMessage, UTCDateTime
from followup.store.outbox.machine import move_each
from followup.store.statuses import MessageStatus

#: the outbox step of a nudge
NUDGE_STEP = "nudge"
#: statuses of a text that went out
SENT = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
_SENT_SQL = ", ".join(f"'{s}'" for s in SENT)
_REPLIED_SINCE = (
    "EXISTS (SELECT 1 FROM inbound_messages i WHERE i.patient_id = m.patient_id"
    " AND i.received_at > {since})"
)

_CHECKINS = (
    text(
        "SELECT m.id, m.clinic_id, m.session_id, m.patient_id, m.step, m.template_key,"
        " m.locale, m.priority, m.sent_at, p.opted_out_at, p.consent, p.timezone,"
        " c.timezone AS clinic_timezone, c.send_window_start, c.send_window_end,"
        f" {_REPLIED_SINCE.format(since='m.sent_at')} AS answered,"
        " EXISTS (SELECT 1 FROM treatment_sessions n WHERE n.patient_id = m.patient_id"
        "  AND n.status = 'completed' AND n.completed_at > s.completed_at) AS superseded"
        " FROM outbound_messages m"
        " JOIN patients p ON p.id = m.patient_id"
        " JOIN clinics c ON c.id = m.clinic_id"
        " JOIN treatment_sessions s ON s.id = m.session_id"
        " WHERE m.template_key IN :templates AND m.sent_at IS NOT NULL"
        " AND m.sent_at >= :since AND m.sent_at <= :now"
        f" AND m.status IN ({_SENT_SQL})"
        " AND NOT EXISTS (SELECT 1 FROM outbound_messages n"
        f"  WHERE n.session_id = m.session_id AND n.step = '{NUDGE_STEP}')"
        " ORDER BY m.sent_at, m.id"
    )
    .bindparams(
        bindparam("templates", expanding=True),
        bindparam("since", type_=UTCDateTime),
        bindparam("now", type_=UTCDateTime),
    )
    .columns(sent_at=UTCDateTime, opted_out_at=UTCDateTime)
)
_ADD = text(
    "INSERT INTO outbound_messages (clinic_id, session_id, patient_id, step, template_key,"
    " locale, priority, due_at, send_at, expires_at, status, reason, attempts, created_at,"
    " updated_at)"
    " VALUES (:clinic_id, :session_id, :patient_id, :step, :template_key, :locale, :priority,"
    " :due_at, :send_at, :expires_at, :status, :reason, 0, :now, :now)"
    " ON CONFLICT (session_id, step) DO NOTHING"
).bindparams(*(bindparam(n, type_=UTCDateTime) for n in ("due_at", "send_at", "expires_at", "now")))
_TO_FOLLOW = (
    text(
        "SELECT m.id, m.clinic_id, m.status, m.reason, m.sent_at,"
        f" {_REPLIED_SINCE.format(since='m.sent_at')} AS answered"
        " FROM outbound_messages m"
        f" WHERE m.step = '{NUDGE_STEP}' AND m.due_at >= :since"
        f" AND m.status IN ({_SENT_SQL}, 'failed', 'skipped')"
        " AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.message_id = m.id)"
        " ORDER BY m.due_at, m.id"
    )
    .bindparams(bindparam("since", type_=UTCDateTime))
    .columns(sent_at=UTCDateTime)
)
_WAITING = select(OutboundMessage.id).where(
    OutboundMessage.patient_id == bindparam("patient_id"),
    OutboundMessage.step == NUDGE_STEP,
    OutboundMessage.status == MessageStatus.SCHEDULED,
)
_PLANS = select(Clinic.id, Clinic.care_plan).where(Clinic.care_plan.is_not(None))


def clinic_plans(conn: Connection) -> dict[int, Any]:
    """The stored care plans of the clinics that have their own, by clinic id."""
    return {row.id: row.care_plan for row in conn.execute(_PLANS)}


def sent_checkins(
    conn: Connection, templates: Sequence[str], *, since: datetime, now: datetime
) -> list[Row]:
    """Texts with one of ``templates`` that went out from ``since`` to ``now`` and whose
    session has no nudge yet, oldest first, with their patient's consent and zone, their
    clinic's zone and sending hours, whether the patient replied after the text went out
    (``answered``) and whether a newer completed session exists (``superseded``)."""
    if not templates:
        return []
    params = {"templates": list(templates), "since": since, "now": now}
    return conn.execute(_CHECKINS, params).all()


def add_nudges(conn: Connection, nudges: Iterable[dict[str, Any]], *, now: datetime) -> None:
    """Write nudge rows (the columns of :data:`_ADD`); one already written for the session
    (by another worker) stays as it is."""
    rows = [{**n, "step": NUDGE_STEP, "now": now} for n in nudges]
    if rows:
        conn.execute(_ADD, rows)


def nudges_to_follow(conn: Connection, *, since: datetime) -> list[Row]:
    """Nudges due from ``since`` on that went out, failed or were skipped, and have no flag
    yet; with whether the patient replied after the nudge went out (``answered``)."""
    return conn.execute(_TO_FOLLOW, {"since": since}).all()


def skip_waiting_nudges(
    db: Session | Connection, patient_id: int, *, now: datetime, reason: str, actor: str
) -> int:
    """Skip the patient's nudges still ``scheduled`` (a reply came): one transition and
    event each. Returns how many moved."""
    return move_each(
        db,
        _WAITING.params(patient_id=patient_id),
        MessageStatus.SCHEDULED,
        MessageStatus.SKIPPED,
        at=now,
        reason=reason,
        actor=actor,
    )
