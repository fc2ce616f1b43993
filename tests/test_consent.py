"""The consent functions directly, on SQLite and PostgreSQL: what an opt-out, an opt-in and a
carrier's verdict record on the patient, which texts they skip or schedule again, and the
event each move writes. See :class:`support.webhooks.Clinics` for the
two clinics they start from."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.webhooks import BAY_NUMBER, DONE, NOW, SHARED

from followup.consent import (
    mark_opted_in,
    mark_opted_out,
    mark_phone_unusable,
    record_carrier_error,
)
from followup.store.engine import transaction
from followup.store.outbox import transition
from followup.store.statuses import MessageStatus as S

ALL_SCHEDULED = {step: (S.SCHEDULED, None) for step in ("aftercare", "checkin_24h", "checkin_72h")}


def test_an_opt_out_records_when_and_how_and_skips_only_that_records_pending_texts(clinics):
    clinics.update_text("P0", "aftercare", status=S.SENT, sent_at=DONE + timedelta(minutes=30))
    with transaction(clinics.sessions) as db:
        assert mark_opted_out(db, clinics.patient_id("P0"), NOW, "sms: STOP") == 2
    p0 = clinics.patient("P0")
    assert (p0.opted_out_at, p0.opted_out_how, p0.consent) == (NOW, "sms: STOP", True)
    why = "opted out: sms: STOP"
    assert clinics.texts("P0") == {
        "aftercare": (S.SENT, None),  # gone already: nothing to skip
        "checkin_24h": (S.SKIPPED, why),
        "checkin_72h": (S.SKIPPED, why),
    }
    assert clinics.events("P0") == [
        ("checkin_24h", S.SCHEDULED, S.SKIPPED, "opt-out", why),
        ("checkin_72h", S.SCHEDULED, S.SKIPPED, "opt-out", why),
    ]
    # the other records of the number, here and at Bay, are theirs to opt out
    for other in ("P1", "P2", "P5"):
        assert clinics.patient(other).opted_out_at is None
        assert clinics.texts(other) == ALL_SCHEDULED
        assert clinics.events(other) == []


def test_a_second_opt_out_keeps_the_first_time_and_way(clinics):
    p0 = clinics.patient_id("P0")
    with transaction(clinics.sessions) as db:
        mark_opted_out(db, p0, NOW, "sms: STOP")
    with transaction(clinics.sessions) as db:
        assert mark_opted_out(db, p0, NOW + timedelta(hours=2), "provider error 21610") == 0
    p = clinics.patient("P0")
    assert (p.opted_out_at, p.opted_out_how) == (NOW, "sms: STOP")


def test_an_opt_in_restores_consent_and_revives_only_what_the_opt_out_skipped_in_time(clinics):
    p0, p2 = clinics.patient_id("P0"), clinics.patient_id("P2")
    checkin_72h = clinics.text_id("P0", "checkin_72h")
    with transaction(clinics.sessions) as db:  # the session was cancelled before the STOP
        transition(db, checkin_72h, S.SCHEDULED, S.SKIPPED, at=NOW, reason="session cancelled",
                   actor="planner")  # fmt: skip
        assert mark_opted_out(db, p0, NOW, "sms: STOP") == 2
        mark_opted_out(db, p2, NOW, "sms: STOP")
    # a day later: the aftercare's window has closed, the 24 h check-in's has not
    later = DONE + timedelta(days=1, hours=1)
    with transaction(clinics.sessions) as db:
        assert mark_opted_in(db, p0, later, "sms: START") == 1
    p = clinics.patient("P0")
    assert (p.opted_out_at, p.opted_out_how) == (None, None)
    # consent is the clinic's record: a START lifts the opt-out and leaves it as it was
    assert (p.consent, p.consent_at, p.consent_method) == (True, None, None)
    assert clinics.texts("P0") == {
        "aftercare": (S.SKIPPED, "opted out: sms: STOP"),
        "checkin_24h": (S.SCHEDULED, "opted in: sms: START"),
        "checkin_72h": (S.SKIPPED, "session cancelled"),
    }
    assert clinics.events("P0")[-1] == (
        "checkin_24h",
        S.SKIPPED,
        S.SCHEDULED,
        "opt-in",
        "opted in: sms: START",
    )
    assert len(clinics.events("P0")) == 4  # cancelled, two skips, one revival
    assert clinics.patient("P2").opted_out_at is not None  # someone else's opt-out stands
    assert {status for status, _ in clinics.texts("P2").values()} == {S.SKIPPED}


@pytest.mark.parametrize(("code", "gateway_says"), [("21610", False), ("30004", True)])
def test_a_carrier_opt_out_marks_the_patient_opted_out(clinics, code, gateway_says):
    with transaction(clinics.sessions) as db:
        record_carrier_error(db, clinics.patient_id("P2"), NOW, code, opted_out=gateway_says)
    how = f"provider error {code}"
    p = clinics.patient("P2")
    assert (p.opted_out_at, p.opted_out_how, p.phone_unusable_at) == (NOW, how, None)
    assert set(clinics.texts("P2").values()) == {(S.SKIPPED, f"opted out: {how}")}
    assert [e[2:4] for e in clinics.events("P2")] == [(S.SKIPPED, "opt-out")] * 3


def test_a_landline_marks_the_number_unusable_and_skips_its_texts(clinics):
    with transaction(clinics.sessions) as db:
        record_carrier_error(db, clinics.patient_id("P2"), NOW, "30006")
    p = clinics.patient("P2")
    assert (p.phone_unusable_at, p.phone_unusable_reason) == (NOW, "provider error 30006")
    assert p.opted_out_at is None
    why = "number cannot receive texts: provider error 30006"
    assert set(clinics.texts("P2").values()) == {(S.SKIPPED, why)}
    assert [e[1:] for e in clinics.events("P2")] == [(S.SCHEDULED, S.SKIPPED, "carrier", why)] * 3
    with transaction(clinics.sessions) as db:  # a later verdict keeps the first
        assert mark_phone_unusable(db, p.id, NOW + timedelta(hours=1), "again") == 0
    assert clinics.patient("P2").phone_unusable_reason == "provider error 30006"
    assert clinics.texts("P0") == ALL_SCHEDULED


def test_other_carrier_errors_are_about_the_text_alone(clinics):
    with transaction(clinics.sessions) as db:
        record_carrier_error(db, clinics.patient_id("P2"), NOW, "30003")
    p = clinics.patient("P2")
    assert (p.opted_out_at, p.phone_unusable_at) == (None, None)
    assert clinics.texts("P2") == ALL_SCHEDULED and clinics.events("P2") == []


def test_a_stop_opts_out_the_records_of_that_number_at_the_clinics_using_that_sender(clinics):
    result = clinics.receive("STOP", sid="SMstop-harbor")
    assert result.reply is None  # Twilio answers its own keyword
    for record in ("P0", "P1"):  # both records of the number at Harbor
        assert clinics.patient(record).opted_out_how == "sms: STOP"
        assert {status for status, _ in clinics.texts(record).values()} == {S.SKIPPED}
    # Bay texts from another number: Twilio's opt-out there is separate, and so is ours
    assert clinics.patient("P5").opted_out_at is None
    assert clinics.texts("P5") == ALL_SCHEDULED
    assert clinics.patient("P2").opted_out_at is None
    clinics.receive("stop texting me", SHARED, BAY_NUMBER, sid="SMstop-bay")
    assert clinics.patient("P5").opted_out_how == "sms: stop texting me"
