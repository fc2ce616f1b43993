"""Staff alerts (``staff_alerts``): queueing them with their flag, claiming due ones under a
lease, giving them back, and recording each delivery's outcome.

The table is an outbox for staff (see :mod:`followup.staff.alerts` for why). Every write
after the claim is guarded by the claim's lease: a sender whose lease ran out, and whose
alert another sender took over, changes nothing. The statements are built once, at import:
the sender runs them for every alert, right after each webhook that raised a flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Select, and_, bindparam, case, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate

from followup.store.models import Clinic, Flag, Patient, StaffAlert, UTCDateTime
from followup.store.statuses import AlertPurpose, AlertStatus, FlagKind

_T = StaffAlert.__table__

#: delivery order of due alerts: emergencies, then clinic-today, then call-backs
URGENCY = case(
    (Flag.kind == FlagKind.EMERGENCY, 0), (Flag.kind == FlagKind.CLINIC_TODAY, 1), else_=2
)


@dataclass(frozen=True)
class ClaimedAlert:
    """One claimed alert with what it takes to deliver it (one joined SELECT). Its
    ``lease_until`` is the claim: every later write of the alert is guarded by it."""

    id: int
    channel: str
    destination: str
    attempts: int
    lease_until: datetime
    flag_id: int
    flag_kind: str
    #: staff words (the outbox's review flags say in them what their alert is about)
    flag_reason: str
    #: None for a fallback alert, which no clinic was given
    clinic_name: str | None
    clinic_slug: str | None
    from_number: str | None
    messaging_service_sid: str | None
    emergency_number: str | None
    first_name: str | None
    #: why the alert went (:class:`~followup.store.statuses.AlertPurpose`)
    purpose: str = AlertPurpose.FLAG


_QUEUE = insert(_T)

_NOW = bindparam("b_now", type_=UTCDateTime)
_FREE = or_(_T.c.lease_until.is_(None), _T.c.lease_until < _NOW)
_DUE = (
    select(_T.c.id)
    .join(Flag, Flag.id == _T.c.flag_id)
    .where(_T.c.status == AlertStatus.PENDING, _T.c.next_attempt_at <= _NOW, _FREE)
    # the most urgent first: an emergency never waits behind call-backs
    .order_by(URGENCY, _T.c.next_attempt_at, _T.c.id)
    .limit(bindparam("b_limit"))
)


def _claim(due: Select[tuple[int]]) -> ReturningUpdate[tuple[int]]:
    """The claiming UPDATE over the due rows ``due`` selects (one per dialect, below)."""
    return (
        update(_T)
        .where(_T.c.id.in_(due.scalar_subquery()), _T.c.status == AlertStatus.PENDING, _FREE)
        # the attempt counts when it starts: an alert that kills its sender every time runs
        # out of attempts instead of looping forever
        .values(
            lease_until=bindparam("b_lease_until", type_=UTCDateTime),
            attempts=_T.c.attempts + 1,
        )
        .returning(_T.c.id)
    )


#: SQLite: the transaction already holds the write lock (``BEGIN IMMEDIATE``)
_CLAIM = _claim(_DUE)
#: PostgreSQL: concurrent senders take disjoint rows without waiting
_PG_CLAIM = _claim(_DUE.with_for_update(skip_locked=True, of=StaffAlert))

_CLAIMED = (
    select(
        StaffAlert.id,
        StaffAlert.channel,
        StaffAlert.destination,
        StaffAlert.attempts,
        StaffAlert.lease_until,
        Flag.id.label("flag_id"),
        Flag.kind.label("flag_kind"),
        Flag.reason.label("flag_reason"),
        Clinic.name.label("clinic_name"),
        Clinic.slug.label("clinic_slug"),
        Clinic.from_number,
        Clinic.messaging_service_sid,
        Clinic.emergency_number,
        Patient.first_name,
        StaffAlert.purpose,
    )
    .join(Flag, Flag.id == StaffAlert.flag_id)
    # no clinic: a fallback alert (an urgent reply from a number no clinic has on file)
    .outerjoin(Clinic, Clinic.id == StaffAlert.clinic_id)
    .outerjoin(Patient, Patient.id == Flag.patient_id)
    .where(StaffAlert.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(URGENCY, StaffAlert.next_attempt_at, StaffAlert.id)
)

#: the alert is still ours: pending, under the lease we took
_OURS = and_(
    _T.c.id == bindparam("b_id"),
    _T.c.status == AlertStatus.PENDING,
    _T.c.lease_until == bindparam("b_held", type_=UTCDateTime),
)
_RELEASE = update(_T).where(_OURS).values(lease_until=None, attempts=_T.c.attempts - 1)
_SENT = (
    update(_T)
    .where(_OURS)
    .values(
        status=AlertStatus.SENT,
        lease_until=None,
        sent_at=bindparam("b_at", type_=UTCDateTime),
        provider_sid=bindparam("b_sid"),
        last_error=None,
    )
)
_FAILED = (
    update(_T)
    .where(_OURS)
    .values(status=AlertStatus.FAILED, lease_until=None, last_error=bindparam("b_error"))
)
_RETRY = (
    update(_T)
    .where(_OURS)
    .values(
        status=AlertStatus.PENDING,
        lease_until=None,
        last_error=bindparam("b_error"),
        next_attempt_at=bindparam("b_at", type_=UTCDateTime),
    )
)


def queue_pending(
    db: Session | Connection,
    *,
    flag_id: int,
    clinic_id: int | None,
    destinations: Sequence[tuple[str, str]],
    now: datetime,
    purpose: str = AlertPurpose.FLAG,
) -> int:
    """Add one ``pending`` alert for the flag per ``(channel, destination)``, due ``now``,
    in the caller's transaction (the flag and its alerts commit together). Returns the
    number of rows added."""
    rows = [
        {
            "flag_id": flag_id,
            "clinic_id": clinic_id,
            "purpose": purpose,
            "channel": channel,
            "destination": destination,
            "status": AlertStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for channel, destination in destinations
    ]
    if rows:
        db.execute(_QUEUE, rows)
    return len(rows)


def claim_due(
    db: Session, *, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedAlert]:
    """Claim up to ``limit`` alerts due at ``now`` until ``lease_until``, the most urgent
    first, one attempt more each; returns them with what their delivery needs.

    A row is claimed once or not at all: PostgreSQL picks candidates with ``FOR UPDATE SKIP
    LOCKED``, SQLite's transaction holds the write lock, and the UPDATE repeats the
    conditions on both.
    """
    claim = _PG_CLAIM if db.get_bind().dialect.name == "postgresql" else _CLAIM
    params = {"b_now": now, "b_limit": limit, "b_lease_until": lease_until}
    ids = list(db.scalars(claim, params))
    if not ids:
        return []
    return [ClaimedAlert(**row._asdict()) for row in db.execute(_CLAIMED, {"b_ids": ids})]


def release(db: Session, alerts: Sequence[ClaimedAlert]) -> None:
    """Give claimed alerts back undelivered: due at once for the next sender, the attempt
    not counted. Only those still held under their claim's lease."""
    if alerts:
        db.execute(_RELEASE, [{"b_id": a.id, "b_held": a.lease_until} for a in alerts])


def mark_sent(db: Session, alert: ClaimedAlert, *, at: datetime, provider_sid: str | None) -> bool:
    """Record the alert delivered at ``at``; False when the claim is no longer ours."""
    params = {"b_id": alert.id, "b_held": alert.lease_until, "b_at": at, "b_sid": provider_sid}
    return db.execute(_SENT, params).rowcount == 1


def mark_failed(db: Session, alert: ClaimedAlert, *, error: str | None) -> bool:
    """Record that the alert will not be delivered, and why; False when the claim is no
    longer ours."""
    params = {"b_id": alert.id, "b_held": alert.lease_until, "b_error": error}
    return db.execute(_FAILED, params).rowcount == 1


def retry_at(db: Session, alert: ClaimedAlert, *, at: datetime, error: str | None) -> bool:
    """Leave the alert ``pending``, due again at ``at``, with this attempt's error; False
    when the claim is no longer ours."""
    params = {"b_id": alert.id, "b_held": alert.lease_until, "b_at": at, "b_error": error}
    return db.execute(_RETRY, params).rowcount == 1
