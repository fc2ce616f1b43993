"""followup.store.sessions directly, on SQLite and PostgreSQL: an import's batch upsert
counts what was new, updates what it had seen and leaves every row waiting to be planned;
the demo's lookup and add; re-planning a clinic's sessions with texts still scheduled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from followup.store import clinics, patients, planning, sessions
from followup.store.models import TreatmentSession
from followup.store.patients import PatientRow
from followup.store.sessions import SessionRow
from followup.store.statuses import SessionStatus

NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


def clinic_and_patients(factory, slug: str = "north", count: int = 2) -> tuple[int, list[int]]:
    with factory() as db, db.begin():
        clinic = clinics.add(
            db, slug=slug, name=slug, phone="+12015550100", timezone="America/New_York"
        )
        rows = [
            PatientRow(clinic.id, f"P{i}", f"Pat{i}", f"+1201555012{i}", None, True)
            for i in range(count)
        ]
        ids = patients.upsert_imported(db, rows, NOW, consent_method="csv")
        return clinic.id, [ids[(clinic.id, f"P{i}")] for i in range(count)]


def row(clinic_id, ext, patient_id, *, at=NOW, status=SessionStatus.COMPLETED, regions="neck"):
    return SessionRow(clinic_id, ext, patient_id, at, status, regions, at + timedelta(days=7))


def stored(factory):
    with factory() as db:
        return {s.external_id: s for s in db.scalars(select(TreatmentSession))}


def test_an_import_batch_inserts_new_sessions_and_updates_known_ones(runtime):
    factory = runtime.sessions
    clinic, (p0, p1) = clinic_and_patients(factory)
    with factory() as db, db.begin():
        assert (
            sessions.upsert_imported(db, [row(clinic, "S1", p0), row(clinic, "S2", p0)], NOW) == 2
        )
        planned = db.scalars(select(TreatmentSession.id)).all()
        planning.mark_planned(db.connection(), planned)  # the planner has been
    moved = NOW + timedelta(hours=2)
    batch = [
        row(clinic, "S2", p1, at=moved, status=SessionStatus.CANCELLED, regions="calf"),
        row(clinic, "S3", p1),
    ]
    with factory() as db, db.begin():
        assert sessions.upsert_imported(db, batch, LATER) == 1
        assert sessions.upsert_imported(db, [], LATER) == 0
    rows = stored(factory)
    assert sorted(rows) == ["S1", "S2", "S3"]
    s1, s2, s3 = rows["S1"], rows["S2"], rows["S3"]
    assert (s1.plan_pending, s1.updated_at) == (False, NOW)  # not in the second batch
    # a session keeps its patient (its texts are theirs): the import refuses such a row,
    # and the store never moves one either
    assert (s2.patient_id, s2.completed_at, s2.status, s2.regions) == (
        p0,
        moved,
        SessionStatus.CANCELLED,
        "calf",
    )
    assert s2.next_appointment_at == moved + timedelta(days=7)
    assert (s2.plan_pending, s2.created_at, s2.updated_at) == (True, NOW, LATER)
    assert (s3.plan_pending, s3.created_at) == (True, LATER)


def test_the_same_external_id_in_two_clinics_is_two_sessions(runtime):
    factory = runtime.sessions
    north, (pn,) = clinic_and_patients(factory, "north", 1)
    south, (ps,) = clinic_and_patients(factory, "south", 1)
    with factory() as db, db.begin():
        assert sessions.upsert_imported(db, [row(north, "S1", pn), row(south, "S1", ps)], NOW) == 2
        assert sessions.upsert_imported(db, [row(north, "S1", pn), row(south, "S1", ps)], NOW) == 0
        assert sessions.exists(db, north, "S1") and sessions.exists(db, south, "S1")
    with factory() as db:
        owners = db.scalars(select(TreatmentSession.clinic_id).order_by(TreatmentSession.id))
        assert owners.all() == [north, south]


def test_the_demo_adds_one_session_and_sees_it(runtime):
    factory = runtime.sessions
    clinic, (p0,) = clinic_and_patients(factory, count=1)
    with factory() as db, db.begin():
        assert sessions.exists(db, clinic, "demo-1") is False
        sessions.add(db, row(clinic, "demo-1", p0))
        assert sessions.exists(db, clinic, "demo-1")
        assert sessions.exists(db, clinic + 1, "demo-1") is False
    added = stored(factory)["demo-1"]
    assert (added.patient_id, added.completed_at, added.regions, added.plan_pending) == (
        p0,
        NOW,
        "neck",
        True,
    )
