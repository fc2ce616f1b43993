"""Claiming due texts, taking over a dead worker's, giving them back, and recording sends:
the dispatcher's SQL, beside the state machine it moves texts through.

Set-based on PostgreSQL (a statement per text cost more CPU than the send itself), an
executemany on SQLite; every move writes its ``message_events`` rows (:func:`add_events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from followup.store.models import OutboundMessage
from followup.store.outbox.machine import add_events, transition
from followup.store.statuses import MessageStatus

S = MessageStatus


def claim_due(
    db: Session,
    *,
    now: datetime,
    worker: str,
    limit: int,
    lease: timedelta,
    skip_clinics: Sequence[int] = (),
) -> list[int]:
    """Claim up to ``limit`` due texts for ``worker`` in one statement: status ``sending``,
    a lease until ``now + lease``, one more attempt. Returns their ids, soonest first.

    PostgreSQL: the candidate rows are picked with ``FOR UPDATE SKIP LOCKED``, so concurrent
    workers take disjoint rows without waiting. SQLite: the transaction already holds the
    write lock (``BEGIN IMMEDIATE``). On both the UPDATE repeats the status condition, so a row
    is claimed once or not at all.

    Texts of ``skip_clinics`` (clinics without a staff alert destination) are left waiting.
    """
    due = (
        select(OutboundMessage.id)
        .where(OutboundMessage.status == S.SCHEDULED, OutboundMessage.send_at <= now)
        .order_by(OutboundMessage.send_at, OutboundMessage.id)
        .limit(limit)
    )
    if skip_clinics:
        due = due.where(OutboundMessage.clinic_id.not_in(list(skip_clinics)))
    if db.bind.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = db.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id.in_(due.scalar_subquery()), OutboundMessage.status == S.SCHEDULED)
        .values(
            status=S.SENDING,
            updated_at=now,
            reason=None,
            claimed_by=worker,
            claimed_at=now,
            lease_until=now + lease,
            attempts=OutboundMessage.attempts + 1,
        )
        .returning(OutboundMessage.id, OutboundMessage.send_at)
        .execution_options(synchronize_session=False)
    ).all()
    ids = [message_id for message_id, _ in sorted(rows, key=lambda r: (r[1], r[0]))]
    add_events(
        db.connection(), [(i, now, "claimed") for i in ids], S.SCHEDULED, S.SENDING, actor=worker
    )
    return ids


def reclaim_expired(
    db: Session, *, now: datetime, worker: str, limit: int, lease: timedelta
) -> list[tuple[int, str | None, int]]:
    """Take over texts whose worker died mid-send: ``sending`` with a lease that ran out.

    Returns ``(id, previous worker, attempts before this one)``. The rows stay ``sending``
    under a new lease for ``worker``, one attempt more; the caller must ask the provider
    whether the text went out before sending it again. Rare (only after a crash), so rows
    are moved one by one.
    """
    q = (
        select(OutboundMessage.id, OutboundMessage.claimed_by, OutboundMessage.attempts)
        .where(
            OutboundMessage.status == S.SENDING,
            or_(OutboundMessage.lease_until < now, OutboundMessage.lease_until.is_(None)),
        )
        .order_by(OutboundMessage.lease_until, OutboundMessage.id)
        .limit(limit)
    )
    if db.bind.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    taken = []
    for message_id, previous, attempts in db.execute(q).all():
        if transition(
            db,
            message_id,
            S.SENDING,
            S.SENDING,
            at=now,
            reason=f"lease of {previous or 'unknown worker'} expired: recovering",
            actor=worker,
            guard=(or_(OutboundMessage.lease_until < now, OutboundMessage.lease_until.is_(None)),),
            claimed_by=worker,
            lease_until=now + lease,
            # another try: a text that kills its worker every time must run out of attempts
            attempts=OutboundMessage.attempts + 1,
        ):
            taken.append((message_id, previous, attempts))
    return taken


def release(
    db: Session,
    ids: Sequence[int],
    *,
    now: datetime,
    worker: str,
    reason: str,
    not_before: datetime | None = None,
) -> int:
    """Give claimed texts back unsent (worker stopping, batch paused): ``scheduled`` again,
    the attempt not counted, due as they were. Only rows still claimed by ``worker``.

    ``not_before`` (a paused batch): none of ``ids`` that is scheduled may be due before it,
    so nobody sends them again while the pause lasts."""
    released = 0
    for message_id in ids:
        if transition(
            db,
            message_id,
            S.SENDING,
            S.SCHEDULED,
            at=now,
            reason=reason,
            actor=worker,
            guard=(OutboundMessage.claimed_by == worker,),
            lease_until=None,
            attempts=OutboundMessage.attempts - 1,
        ):
            released += 1
    if not_before is not None:
        db.execute(_HOLD, {"ids": list(ids), "until": not_before})
    return released


@dataclass(frozen=True)
class Accepted:
    """A text the provider accepted, waiting to be recorded as ``sent``."""

    message_id: int
    provider_sid: str | None
    provider_status: str | None
    at: datetime
    reason: str
    #: when it was to go: how late it went is counted when it is recorded sent
    send_at: datetime | None = None


def mark_sent(conn: Connection, accepted: Sequence[Accepted], *, worker: str) -> list[int]:
    """Record many accepted texts as ``sent`` in one transaction (the hot path of a send).

    Only rows still ``sending`` and claimed by ``worker`` move (another worker may have taken
    one over after a lease ran out; its move stands). Returns the ids that moved.

    PostgreSQL gets one set-based UPDATE over ``unnest`` of arrays (a statement per text,
    even pipelined, cost more CPU than the send itself); SQLite, in-process, an executemany.
    """
    if not accepted:
        return []
    if conn.dialect.name == "postgresql":
        moved_ids = set(
            conn.execute(
                _PG_MARK_SENT,
                {
                    "ids": [a.message_id for a in accepted],
                    "sids": [a.provider_sid for a in accepted],
                    "sts": [a.provider_status for a in accepted],
                    "ats": [a.at for a in accepted],
                    "worker": worker,
                },
            ).scalars()
        )
        moved = [a for a in accepted if a.message_id in moved_ids]
    else:
        t = OutboundMessage.__table__
        mine = set(
            conn.scalars(
                select(t.c.id).where(
                    t.c.id.in_([a.message_id for a in accepted]),
                    t.c.status == S.SENDING,
                    t.c.claimed_by == worker,
                )
            )
        )
        moved = [a for a in accepted if a.message_id in mine]
        if moved:
            conn.execute(
                _MARK_SENT,
                [
                    {
                        "b_id": a.message_id,
                        "b_sid": a.provider_sid,
                        "b_status": a.provider_status,
                        "b_at": a.at,
                    }
                    for a in moved
                ],
            )
    add_events(
        conn,
        [(a.message_id, a.at, a.reason) for a in moved],
        S.SENDING,
        S.SENT,
        actor=worker,
    )
    return [a.message_id for a in moved]


def set_bodies(conn: Connection, bodies: Sequence[tuple[int, str]]) -> None:
    """Store rendered bodies ``(id, body)`` (set-based on PostgreSQL, as in mark_sent)."""
    if not bodies:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(
            _PG_SET_BODIES, {"ids": [i for i, _ in bodies], "bodies": [b for _, b in bodies]}
        )
    else:
        conn.execute(_SET_BODY, [{"b_id": i, "b_body": b} for i, b in bodies])


_MARK_SENT = (
    update(OutboundMessage.__table__)
    .where(OutboundMessage.__table__.c.id == bindparam("b_id"))
    .values(
        status=S.SENT,
        provider_sid=bindparam("b_sid"),
        provider_status=bindparam("b_status"),
        sent_at=bindparam("b_at"),
        updated_at=bindparam("b_at"),
        lease_until=None,
        reason=None,
        error_code=None,
        error_message=None,
    )
)
_HOLD = (
    update(OutboundMessage.__table__)
    .where(
        OutboundMessage.__table__.c.id.in_(bindparam("ids", expanding=True)),
        OutboundMessage.__table__.c.status == S.SCHEDULED,
        OutboundMessage.__table__.c.send_at < bindparam("until"),
    )
    .values(send_at=bindparam("until"))
)
_SET_BODY = (
    update(OutboundMessage.__table__)
    .where(OutboundMessage.__table__.c.id == bindparam("b_id"))
    .values(body=bindparam("b_body"))
)
_PG_MARK_SENT = text(
    f"UPDATE outbound_messages AS m SET status = '{S.SENT}', provider_sid = v.sid,"
    " provider_status = v.st, sent_at = v.at, updated_at = v.at, lease_until = NULL,"
    " reason = NULL, error_code = NULL, error_message = NULL"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:sids AS text[]), CAST(:sts AS text[]),"
    " CAST(:ats AS timestamptz[])) AS v(id, sid, st, at)"
    f" WHERE m.id = v.id AND m.status = '{S.SENDING}' AND m.claimed_by = :worker"
    " RETURNING m.id"
)
_PG_SET_BODIES = text(
    "UPDATE outbound_messages AS m SET body = v.body"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:bodies AS text[])) AS v(id, body)"
    " WHERE m.id = v.id"
)
