"""followup.store.outbox.sending directly, on SQLite and PostgreSQL: what a claimed batch
reads (each text with its own patient, clinic and session, and only texts still
``sending``), and the last look right before a send, which must see what other
transactions committed a moment ago (a STOP, a cancelled session), from any sending thread.

The clinics are Harbor and Bay (:class:`support.webhooks.Clinics`); their aftercare texts
are claimed the way the dispatcher claims them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from support.webhooks import BAY_NUMBER, HARBOR_NUMBER, NOW, OTHER, SHARED

from followup.store.models import Clinic, Patient, TreatmentSession
from followup.store.outbox import LastLook, LastLookReader, claim_due, claimed_texts, skip_claimed
from followup.store.statuses import MessageStatus as S
from followup.store.statuses import SessionStatus

NEXT_VISIT = datetime(2026, 3, 17, 13, 30, tzinfo=UTC)


@pytest.fixture
def aftercares(clinics) -> dict[str, int]:
    """Every aftercare text, claimed by worker w1: patient's external id -> text id."""
    with clinics.sessions() as db, db.begin():
        ids = claim_due(db, now=NOW, worker="w1", limit=10, lease=timedelta(minutes=5))
    by_patient = {p: clinics.text_id(p, "aftercare") for p in ("P0", "P1", "P2", "P5")}
    assert sorted(ids) == sorted(by_patient.values())
    return by_patient


@pytest.fixture
def reader(runtime):
    look = LastLookReader(runtime.engine)
    yield look
    look.close()


def test_a_claimed_batch_comes_with_each_texts_own_patient_clinic_and_session(clinics, aftercares):
    with clinics.sessions() as db, db.begin():
        db.execute(
            update(TreatmentSession)
            .where(TreatmentSession.external_id == "S5")
            .values(next_appointment_at=NEXT_VISIT)
        )
        db.execute(update(Patient).where(Patient.external_id == "P2").values(timezone="UTC"))
    with clinics.sessions() as db:
        rows = {r.id: r for r in claimed_texts(db, list(aftercares.values()))}
    assert sorted(rows) == sorted(aftercares.values())
    bay, harbor = rows[aftercares["P5"]], rows[aftercares["P2"]]
    assert (bay.first_name, bay.phone, bay.clinic_name, bay.from_number) == (
        "PatF",
        SHARED,
        "Bay Physio",
        BAY_NUMBER,
    )
    assert (bay.next_appointment_at, bay.session_status) == (NEXT_VISIT, SessionStatus.COMPLETED)
    assert (harbor.first_name, harbor.phone, harbor.clinic_name, harbor.from_number) == (
        "PatC",
        OTHER,
        "Harbor Physio",
        HARBOR_NUMBER,
    )
    assert (harbor.patient_timezone, harbor.clinic_timezone) == ("UTC", "America/New_York")
    assert harbor.next_appointment_at is None
    for r in rows.values():
        assert (r.template_key, r.locale, r.attempts, r.body) == ("aftercare", "en", 1, None)
        assert (r.opted_out_at, r.consent, r.phone_unusable_at) == (None, True, None)
        assert (r.clinic_phone, r.country, r.emergency_number) == ("+12015550100", "US", "911")
        assert r.messaging_service_sid is None
        # P{i} is seeded as "Pat" and the i-th letter
        assert r.patient_id == clinics.patient_id(f"P{ord(r.first_name[-1]) - ord('A')}")


def test_a_claimed_batch_holds_only_texts_still_sending(clinics, aftercares, runtime):
    with clinics.sessions() as db, db.begin():
        skip_claimed(db, aftercares["P1"], worker="w1", at=NOW, reason="opted out: sms: STOP")
    not_claimed = clinics.text_id("P0", "checkin_24h")  # scheduled, not due yet
    asked = [*aftercares.values(), not_claimed, 999_999]
    with runtime.engine.connect() as conn:  # a Connection reads the same as a Session
        ids = {r.id for r in claimed_texts(conn, asked)}
    assert ids == {aftercares["P0"], aftercares["P2"], aftercares["P5"]}
    with clinics.sessions() as db:
        assert claimed_texts(db, []) == []
        assert claimed_texts(db, [not_claimed]) == []


def test_the_last_look_sees_the_text_its_patient_and_its_session_as_they_are(
    clinics, aftercares, reader
):
    text = aftercares["P2"]
    assert reader.read(text) == LastLook(S.SENDING, "w1", False, True, "completed", False)
    with clinics.sessions() as db, db.begin():  # each committed by someone else, in turn
        db.execute(update(Patient).where(Patient.external_id == "P2").values(opted_out_at=NOW))
    assert reader.read(text).opted_out is True
    with clinics.sessions() as db, db.begin():
        db.execute(update(Patient).where(Patient.external_id == "P2").values(consent=False))
    assert reader.read(text).consent is False
    with clinics.sessions() as db, db.begin():
        db.execute(update(Patient).where(Patient.external_id == "P2").values(phone_unusable_at=NOW))
    assert reader.read(text).phone_unusable is True
    with clinics.sessions() as db, db.begin():
        db.execute(
            update(TreatmentSession)
            .where(TreatmentSession.external_id == "S2")
            .values(status=SessionStatus.CANCELLED)
        )
    assert reader.read(text).session_status == SessionStatus.CANCELLED
    with clinics.sessions() as db, db.begin():
        skip_claimed(db, text, worker="w1", at=NOW, reason="session cancelled")
    assert reader.read(text) == LastLook(S.SKIPPED, "w1", True, False, "cancelled", True)
    # the others' texts are untouched by all that
    assert reader.read(aftercares["P5"]) == LastLook(
        S.SENDING, "w1", False, True, "completed", False
    )


def test_the_last_look_at_a_text_that_is_gone_is_none(clinics, aftercares, reader):
    assert reader.read(999_999) is None
    with clinics.sessions() as db, db.begin():  # deleting the clinic takes its texts along
        db.delete(db.get(Clinic, clinics.clinic_id("bay")))
    assert reader.read(aftercares["P5"]) is None
    assert reader.read(aftercares["P0"]).status == S.SENDING


def test_the_last_look_reads_from_many_threads_and_again_after_close(clinics, aftercares, reader):
    texts = [aftercares[p] for p in ("P0", "P1", "P2", "P5")] * 5
    with ThreadPoolExecutor(max_workers=4) as pool:
        seen = list(pool.map(reader.read, texts))
    assert [s.status for s in seen] == [S.SENDING] * len(texts)
    assert {s.claimed_by for s in seen} == {"w1"}
    reader.close()  # the threads are done with their connections
    with clinics.sessions() as db, db.begin():
        skip_claimed(db, aftercares["P0"], worker="w1", at=NOW, reason="too late")
    assert reader.read(aftercares["P0"]).status == S.SKIPPED  # a fresh connection
