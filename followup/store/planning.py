"""What the planner reads of patients, clinics and sessions, the locks it takes on them, and
its writes to them: clearing ``plan_pending`` (with ``plan_error`` when a session could not be
planned), and setting it again for a text to be placed anew.

Here rather than in :mod:`followup.store.outbox.planning`: the outbox package writes texts
and nothing else, while these statements are about who is waiting to be planned and with
what facts. They are the planner's own (a join of patients and clinics, the lock order that
keeps planners from waiting on each other), so they live together, not in the per-table
modules other flows use.

Lock order (PostgreSQL): the patients of a batch first (``FOR UPDATE SKIP LOCKED``, in id
order), then their waiting sessions. Two planners never plan the same patient and never wait
on each other; locking sessions first deadlocked (an outbox insert checks its foreign key
against a session another planner had locked, while that one waited for the patient).
SQLite serialises writers (``BEGIN IMMEDIATE``), so no lock is asked for there.

Every statement is built once, at import; the ids go in as expanding parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, func, or_, select, update

from followup.store.models import Clinic, Patient, TreatmentSession


def waiting_patients(conn: Connection, limit: int) -> list[int]:
    """Patients of the first ``limit`` sessions waiting to be planned (oldest session first;
    no lock: only candidates, a patient may appear more than once)."""
    return conn.scalars(_WAITING, {"limit": limit}).all()


def lock_patients(conn: Connection, patient_ids: Sequence[int]) -> dict[int, Row]:
    """The patients this planner takes, with what planning needs of them and their clinic,
    by id. On PostgreSQL they are locked, skipping any another planner holds: a patient
    missing from the answer is being planned elsewhere right now."""
    stmt = _PATIENTS_LOCKED if _postgres(conn) else _PATIENTS
    return {p.id: p for p in conn.execute(stmt, {"ids": sorted(set(patient_ids))})}


def lock_waiting_sessions(conn: Connection, patient_ids: Sequence[int]) -> list[int]:
    """Ids of the patients' sessions waiting to be planned, locked after the patients (on
    PostgreSQL) against a clinic system updating them meanwhile."""
    stmt = _PENDING_LOCKED if _postgres(conn) else _PENDING
    return conn.scalars(stmt, {"ids": patient_ids}).all()


def sessions_to_plan(
    conn: Connection,
    patient_ids: Sequence[int],
    *,
    completed_since: datetime,
    appointment_since: datetime,
) -> list[Row]:
    """The patients' sessions that can still have texts to plan or count: waiting ones, those
    completed from ``completed_since`` on, and those with a next appointment from
    ``appointment_since`` on."""
    return conn.execute(
        _SESSIONS,
        {
            "ids": patient_ids,
            "completed_since": completed_since,
            "appointment_since": appointment_since,
        },
    ).all()


def mark_planned(conn: Connection, session_ids: Sequence[int]) -> None:
    """Clear ``plan_pending`` on sessions just planned, keeping ``updated_at`` (being planned
    is not a change of the session).

    Nobody can have changed these rows since they were read: PostgreSQL holds their row
    locks (:func:`lock_waiting_sessions`) and SQLite the write lock until the transaction
    commits. A re-import waits for the commit, then sets the flag again."""
    conn.execute(_MARK_PLANNED, {"ids": session_ids})


def mark_unplannable(conn: Connection, session_ids: Sequence[int], error: str) -> None:
    """Set sessions aside that the planner could not plan: no longer pending (so the next
    run does not trip on them again), ``plan_error`` saying why. Writing the session again
    (a fixed re-import, a direct update) makes it pending once more."""
    conn.execute(_MARK_UNPLANNABLE, {"ids": list(session_ids), "error": error[:500]})


def plan_again(conn: Connection, session_ids: Sequence[int]) -> None:
    """Mark sessions pending so the next planning run places their texts again (a text that
    came due outside its sending hours is placed by the whole rule set, caps included)."""
    if session_ids:
        conn.execute(_PLAN_AGAIN, {"ids": list(set(session_ids))})


def unplannable(
    conn: Connection, *, clinic_slug: str | None = None, limit: int = 20
) -> tuple[int, list[Row]]:
    """How many sessions could not be planned, and the latest ``limit`` of them (clinic
    slug, the clinic's session id, the error), for ``followup outbox``."""
    where = [TreatmentSession.plan_error.is_not(None)]
    if clinic_slug is not None:
        where.append(Clinic.slug == clinic_slug)
    base = select(TreatmentSession.id).join(Clinic, Clinic.id == TreatmentSession.clinic_id)
    count = conn.execute(select(func.count()).select_from(base.where(*where).subquery()))
    rows = conn.execute(
        select(Clinic.slug, TreatmentSession.external_id, TreatmentSession.plan_error)
        .join(Clinic, Clinic.id == TreatmentSession.clinic_id)
        .where(*where)
        .order_by(TreatmentSession.id.desc())
        .limit(limit)
    ).all()
    return count.scalar_one(), rows


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


_WAITING = (
    select(TreatmentSession.patient_id)
    .where(TreatmentSession.plan_pending.is_(True))
    .order_by(TreatmentSession.id)
    .limit(bindparam("limit"))
)
#: plain columns rather than ORM objects: this runs for every session a clinic ever sends
_PATIENTS = (
    select(
        Patient.id,
        Patient.timezone,
        Patient.locale,
        Patient.consent,
        Patient.opted_out_at,
        Clinic.id.label("clinic_id"),
        Clinic.timezone.label("clinic_timezone"),
        Clinic.default_locale,
        Clinic.send_window_start,
        Clinic.send_window_end,
        Clinic.care_plan,
    )
    .join(Clinic, Clinic.id == Patient.clinic_id)
    .where(Patient.id.in_(bindparam("ids", expanding=True)))
    .order_by(Patient.id)
)
_PATIENTS_LOCKED = _PATIENTS.with_for_update(of=Patient.__table__, skip_locked=True)
_PENDING = (
    select(TreatmentSession.id)
    .where(
        TreatmentSession.patient_id.in_(bindparam("ids", expanding=True)),
        TreatmentSession.plan_pending.is_(True),
    )
    .order_by(TreatmentSession.id)
)
_PENDING_LOCKED = _PENDING.with_for_update()
_SESSIONS = select(
    TreatmentSession.id,
    TreatmentSession.patient_id,
    TreatmentSession.external_id,
    TreatmentSession.completed_at,
    TreatmentSession.status,
    TreatmentSession.regions,
    TreatmentSession.next_appointment_at,
    TreatmentSession.plan_pending,
).where(
    TreatmentSession.patient_id.in_(bindparam("ids", expanding=True)),
    or_(
        TreatmentSession.plan_pending.is_(True),
        TreatmentSession.completed_at >= bindparam("completed_since"),
        TreatmentSession.next_appointment_at >= bindparam("appointment_since"),
    ),
)
_MARK_PLANNED = (
    update(TreatmentSession.__table__)
    .where(TreatmentSession.__table__.c.id.in_(bindparam("ids", expanding=True)))
    .values(plan_pending=False, plan_error=None, updated_at=TreatmentSession.__table__.c.updated_at)
)
_MARK_UNPLANNABLE = (
    update(TreatmentSession.__table__)
    .where(TreatmentSession.__table__.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        plan_pending=False,
        plan_error=bindparam("error"),
        updated_at=TreatmentSession.__table__.c.updated_at,
    )
)
_PLAN_AGAIN = (
    update(TreatmentSession.__table__)
    .where(TreatmentSession.__table__.c.id.in_(bindparam("ids", expanding=True)))
    .values(plan_pending=True, updated_at=TreatmentSession.__table__.c.updated_at)
)
