"""followup.store.patients directly, on SQLite and PostgreSQL: an import's batch upsert
(consent dated only when it changes, a new number clearing the carrier's verdict, an
opt-out never touched), the demo's lookup and add, and what replies and receipts record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from followup.store import clinics, patients
from followup.store.models import Patient
from followup.store.patients import MAX_CONSENT_METHOD, PatientRow

NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
PHONE, NEW_PHONE = "+12015550123", "+12015550124"


def a_clinic(factory, slug: str = "north") -> int:
    with factory() as db, db.begin():
        return clinics.add(
            db, slug=slug, name=slug, phone="+12015550100", timezone="America/New_York"
        ).id


def upsert(factory, rows, at=NOW, how="csv"):
    with factory() as db, db.begin():
        return patients.upsert_imported(db, rows, at, consent_method=how)


def patient(factory, patient_id: int) -> Patient:
    with factory() as db:
        return db.get(Patient, patient_id)


def test_an_import_batch_upserts_patients_by_the_clinics_own_ids(sessions):
    north, south = a_clinic(sessions, "north"), a_clinic(sessions, "south")
    ids = upsert(
        sessions,
        [
            PatientRow(north, "P1", "Ana", PHONE, "es", True),
            PatientRow(south, "P1", "Ben", PHONE, None, False),
        ],
    )
    assert set(ids) == {(north, "P1"), (south, "P1")}
    assert len(set(ids.values())) == 2
    again = upsert(sessions, [PatientRow(north, "P1", "Ana María", PHONE, "en", True)], LATER)
    assert again == {(north, "P1"): ids[(north, "P1")]}
    ana = patient(sessions, ids[(north, "P1")])
    assert (ana.first_name, ana.locale, ana.consent) == ("Ana María", "en", True)
    assert (ana.consent_at, ana.consent_method, ana.created_at, ana.updated_at) == (
        NOW,  # consent did not change: it keeps when and how it was given
        "csv",
        NOW,
        LATER,
    )
    ben = patient(sessions, ids[(south, "P1")])
    assert (ben.first_name, ben.consent, ben.consent_at) == ("Ben", False, NOW)
    with sessions() as db:  # re-importing added no one
        assert db.scalars(select(Patient.id).order_by(Patient.id)).all() == sorted(ids.values())
    assert upsert(sessions, []) == {}


def test_a_changed_consent_is_dated_and_an_opt_out_is_never_touched(sessions):
    north = a_clinic(sessions)
    (pid,) = upsert(sessions, [PatientRow(north, "P1", "Ana", PHONE, None, True)]).values()
    with sessions() as db, db.begin():
        assert patients.record_opt_out(db, pid, NOW, "sms: STOP") is True
    upsert(sessions, [PatientRow(north, "P1", "Ana", PHONE, None, False)], LATER, how="x" * 99)
    ana = patient(sessions, pid)
    assert (ana.consent, ana.consent_at) == (False, LATER)
    assert ana.consent_method == "x" * MAX_CONSENT_METHOD
    assert (ana.opted_out_at, ana.opted_out_how) == (NOW, "sms: STOP")


def test_a_new_number_clears_the_carriers_verdict_and_the_same_number_keeps_it(sessions):
    north = a_clinic(sessions)
    (pid,) = upsert(sessions, [PatientRow(north, "P1", "Ana", PHONE, None, True)]).values()
    with sessions() as db, db.begin():
        assert patients.record_unusable_number(db, pid, NOW, "30006 landline") is True
        assert patients.record_unusable_number(db, pid, LATER, "again") is False
    upsert(sessions, [PatientRow(north, "P1", "Ana", PHONE, None, True)], LATER)
    ana = patient(sessions, pid)
    assert (ana.phone_unusable_at, ana.phone_unusable_reason) == (NOW, "30006 landline")
    upsert(sessions, [PatientRow(north, "P1", "Ana", NEW_PHONE, None, True)], LATER)
    ana = patient(sessions, pid)
    assert (ana.phone, ana.phone_unusable_at, ana.phone_unusable_reason) == (NEW_PHONE, None, None)


def test_the_demo_adds_a_patient_and_finds_it_by_its_own_id(sessions):
    north = a_clinic(sessions)
    with sessions() as db, db.begin():
        assert patients.by_external_id(db, north, "demo-p1") is None
        added = patients.add(
            db, PatientRow(north, "demo-p1", "Ana", PHONE, "en", True), NOW, consent_method="demo"
        )
        assert added.id is not None  # flushed
        unasked = patients.add(
            db, PatientRow(north, "demo-p2", "Ben", PHONE, None, False), NOW, consent_method="demo"
        )
    with sessions() as db:
        found = patients.by_external_id(db, north, "demo-p1")
        assert (found.id, found.consent, found.consent_at, found.consent_method) == (
            added.id,
            True,
            NOW,
            "demo",
        )
        assert patients.by_external_id(db, north + 1, "demo-p1") is None
        ben = db.get(Patient, unasked.id)
        assert (ben.consent, ben.consent_at, ben.consent_method) == (False, None, None)


def test_an_opt_in_lifts_an_opt_out_and_never_overrides_a_recorded_no(sessions):
    north = a_clinic(sessions)
    (pid,) = upsert(sessions, [PatientRow(north, "P1", "Ana", PHONE, None, False)]).values()
    with sessions() as db, db.begin():
        patients.record_opt_out(db, pid, NOW, "sms: STOP")
        patients.record_opt_in(db, pid, LATER, "sms: START")
    ana = patient(sessions, pid)
    assert (ana.opted_out_at, ana.opted_out_how) == (None, None)
    # the clinic recorded "no": a START does not turn it into a yes
    assert (ana.consent, ana.consent_at) == (False, NOW)
