"""Treatment sessions (``treatment_sessions``) as they come in: upserted in batches from an
import, added one by one (the demo), and flagged to be planned again when a clinic's care
plan changes.

Every write here sets ``plan_pending``: a session inserted or changed is one the planner has
not yet turned into texts. The planner's own reads and its clearing of the flag are in
:mod:`followup.store.planning`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Boolean, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from followup.store.models import OutboundMessage, Patient, TreatmentSession
from followup.store.statuses import MessageStatus

#: the columns an import may change on a session it has seen before (never its patient: the
#: session's texts belong to that patient; see :func:`patients_of`)
_IMPORTED = ("completed_at", "status", "regions", "next_appointment_at")


class SessionRow(NamedTuple):
    """One session of an import, keyed by the clinic's own id for it; ``patient_id`` is the
    patient's row id (see :func:`followup.store.patients.upsert_imported`)."""

    clinic_id: int
    external_id: str
    patient_id: int
    completed_at: datetime
    status: str
    regions: str
    next_appointment_at: datetime | None


def patients_of(db: Session, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """(clinic id, session external id) -> the clinic's own id of the session's patient, for
    the sessions among ``keys`` already stored."""
    if not keys:
        return {}
    by_clinic: dict[int, list[str]] = defaultdict(list)
    for clinic_id, external_id in keys:
        by_clinic[clinic_id].append(external_id)
    found: dict[tuple[int, str], str] = {}
    for clinic_id, external_ids in by_clinic.items():
        rows = db.execute(
            select(TreatmentSession.external_id, Patient.external_id)
            .join(Patient, Patient.id == TreatmentSession.patient_id)
            .where(
                TreatmentSession.clinic_id == clinic_id,
                TreatmentSession.external_id.in_(external_ids),
            )
        )
        found.update({(clinic_id, session): patient for session, patient in rows})
    return found


def upsert_imported(db: Session, rows: Sequence[SessionRow], now: datetime) -> int:
    """Insert or update each session by (clinic, external id), all waiting to be planned
    (again); returns how many were new. One statement for the batch."""
    if not rows:
        return 0
    postgres = db.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    stmt = insert(TreatmentSession.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["clinic_id", "external_id"],
        set_={
            **{c: stmt.excluded[c] for c in _IMPORTED},
            "plan_pending": True,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    params = [
        {**row._asdict(), "plan_pending": True, "created_at": now, "updated_at": now}
        for row in rows
    ]
    if postgres:
        # xmax is 0 only on a row version this statement inserted. (A lookup of the existing
        # ids first is slow here: during a large import the table's statistics are stale and
        # the planner scans it for every batch.)
        stmt = stmt.returning(literal_column("(xmax = 0)", Boolean))
        return sum(1 for (inserted,) in db.execute(stmt, params) if inserted)
    created = len(rows) - len(_existing(db, rows))
    db.execute(stmt, params)
    return created


def _existing(db: Session, rows: Sequence[SessionRow]) -> set[tuple[int, str]]:
    """(clinic id, external id) of the rows' sessions already stored."""
    by_clinic: dict[int, list[str]] = defaultdict(list)
    for r in rows:
        by_clinic[r.clinic_id].append(r.external_id)
    found: set[tuple[int, str]] = set()
    ts = TreatmentSession
    for clinic_id, ids in by_clinic.items():
        query = select(ts.external_id).where(ts.clinic_id == clinic_id, ts.external_id.in_(ids))
        found.update((clinic_id, ext) for ext in db.scalars(query))
    return found


def exists(db: Session, clinic_id: int, external_id: str) -> bool:
    """Whether the clinic has a session with its own id ``external_id``."""
    query = select(TreatmentSession.id).where(
        TreatmentSession.clinic_id == clinic_id, TreatmentSession.external_id == external_id
    )
    return db.scalar(query) is not None


def add(db: Session, row: SessionRow) -> None:
    """Add one session, waiting to be planned (flushed with the caller's transaction)."""
    db.add(TreatmentSession(**row._asdict(), plan_pending=True))


def replan_scheduled(db: Session, clinic_id: int) -> None:
    """Mark the clinic's sessions that still have a text scheduled as waiting to be planned,
    so the planner's next tick reschedules what has not gone out."""
    db.execute(
        update(TreatmentSession)
        .where(
            TreatmentSession.clinic_id == clinic_id,
            TreatmentSession.id.in_(
                select(OutboundMessage.session_id).where(
                    OutboundMessage.status == MessageStatus.SCHEDULED
                )
            ),
        )
        .values(plan_pending=True)
    )
