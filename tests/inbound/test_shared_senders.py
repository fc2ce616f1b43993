"""Replies on a sender several clinics share, on SQLite and PostgreSQL: a red flag is never
met with silence, reaches a person when no clinic knows the number, reaches every clinic that
treated the patient lately, and a patient writing to the wrong number still reaches their
own clinic.

North and South send from the process-wide number (no sender of their own); Bay has its
own. ``TWIN`` is a patient of North and of South; ``BAYS`` is Bay's patient only.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from support.seeding import seed_treated
from support.webhooks import DONE, NOW, RecordingGateway

from followup.inbound.receive import InboundSms, Senders, emergency_number_without_clinic
from followup.staff.alerts import AlertSender
from followup.store.models import (
    Flag,
    InboundMessage,
    OutboundMessage,
    Patient,
    StaffAlert,
    TreatmentSession,
)
from followup.store.statuses import FlagKind, MessageStatus

SHARED_SENDER = "+12015550100"
BAY_SENDER = "+12015550112"
TWIN, BAYS, STRANGER = "+12015550401", "+12015550402", "+12015550477"
FALLBACK = "+12015550900"
NORTH_ONCALL, SOUTH_ONCALL, BAY_ONCALL = "+12015550911", "+12015550912", "+12015550913"
SENDERS = Senders(from_number=SHARED_SENDER, fallback_alert_to=FALLBACK)


@pytest.fixture
def shared(runtime):
    """North (P0, TWIN) and South (P1, TWIN) on the shared sender, Bay (P2, BAYS) on its own;
    every check-in sent, North's last."""
    factory = runtime.sessions
    seed_treated(
        factory, [TWIN], DONE, slug="north", name="North Physio", from_number=None,
        oncall_phone=NORTH_ONCALL,
    )  # fmt: skip
    seed_treated(
        factory, [TWIN], DONE, first_id=1, slug="south", name="South Rehab", from_number=None,
        oncall_phone=SOUTH_ONCALL,
    )  # fmt: skip
    seed_treated(
        factory, [BAYS], DONE, first_id=2, slug="bay", name="Bay Physio", from_number=BAY_SENDER,
        oncall_phone=BAY_ONCALL,
    )  # fmt: skip
    for external_id, hours in (("P1", 20), ("P2", 22), ("P0", 24)):
        _sent_checkin(runtime, external_id, DONE + timedelta(hours=hours))
    return runtime


def _patient(rt, external_id: str) -> Patient:
    with rt.sessions() as db:
        return db.scalars(select(Patient).where(Patient.external_id == external_id)).one()


def _sent_checkin(rt, external_id: str, at) -> None:
    with rt.sessions() as db, db.begin():
        pid = _patient(rt, external_id).id
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.patient_id == pid, OutboundMessage.step == "checkin_24h")
            .values(status=MessageStatus.SENT, sent_at=at)
        )


def _receive(rt, body: str, sender: str, *, sid: str, to=SHARED_SENDER, senders=SENDERS,
             now=NOW + timedelta(days=1), **extra):  # fmt: skip
    from followup.inbound.receive import receive

    sms = InboundSms(sid=sid, from_number=sender, to_number=to, body=body, **extra)
    with rt.engine.begin() as conn:
        return receive(conn, sms, catalogue=rt.catalogue, now=now, senders=senders)


def _flags(rt) -> list[Flag]:
    with rt.sessions() as db:
        return list(db.scalars(select(Flag).order_by(Flag.id)))


def _alerts(rt) -> list[StaffAlert]:
    with rt.sessions() as db:
        return list(db.scalars(select(StaffAlert).order_by(StaffAlert.id)))


def _clinic_of(rt, external_id: str) -> int:
    return _patient(rt, external_id).clinic_id


# --- a number no clinic behind the shared sender knows ---------------------------------------


def test_an_emergency_from_an_unknown_number_is_answered_flagged_and_paged(shared):
    result = _receive(shared, "crushing chest pain and I can't breathe", STRANGER, sid="SMu1")
    assert result.reply is not None and "call 911 now" in result.reply
    for name in ("North", "South", "Bay", "chest", "breathe"):
        assert name not in result.reply  # no clinic named that might not be theirs, no echo
    (flag,) = _flags(shared)
    assert (flag.kind, flag.clinic_id, flag.patient_id) == (FlagKind.EMERGENCY, None, None)
    (alert,) = _alerts(shared)
    assert (alert.clinic_id, alert.channel, alert.destination) == (None, "sms", FALLBACK)
    assert result.alerts == 1

    gateway = RecordingGateway()
    sender = AlertSender(
        shared.sessions, gateway, public_url=None, default_from=SHARED_SENDER,
        default_service_sid=None, worker="test",
    )  # fmt: skip
    report = sender.run_once(NOW + timedelta(days=1))
    assert (report.sent, report.failed) == (1, 0)
    (page,) = gateway.sent
    assert (page.to, page.from_number) == (FALLBACK, SHARED_SENDER)
    assert page.body.startswith("URGENT Shared number: Emergency reply from an unknown number")
    for phi in ("chest", "breath", STRANGER, "555-0477"):
        assert phi not in page.body
    assert _alerts(shared)[0].status == "sent"


def test_without_a_fallback_phone_the_flag_waits_and_the_patient_is_still_answered(shared):
    quiet = Senders(from_number=SHARED_SENDER)
    result = _receive(shared, "I fainted", STRANGER, sid="SMu2", senders=quiet)
    assert result.reply is not None and "911" in result.reply
    assert [f.kind for f in _flags(shared)] == [FlagKind.EMERGENCY]
    assert _alerts(shared) == [] and result.alerts == 0


def test_free_text_from_an_unknown_number_gets_the_emergency_line_and_a_review(shared):
    result = _receive(shared, "is this the physio?", STRANGER, sid="SMu3")
    assert result.reply is not None and "911" in result.reply
    assert [f.kind for f in _flags(shared)] == [FlagKind.REVIEW]
    assert _alerts(shared) == []  # a review waits in the inbox; nobody is paged for it


def test_a_keyword_from_an_unknown_number_is_not_answered_with_a_clinics_words(shared):
    result = _receive(shared, "please stop texting me", STRANGER, sid="SMu4")
    assert result.reply is None  # nothing to stop: no clinic texted this number


@pytest.mark.parametrize(
    ("emergency_numbers", "sender", "setting", "told"),
    [
        (["911", "911"], "+447700900123", "112", "911"),  # the clinics' own number first
        (["911", "000"], "+447700900123", "112", "999"),  # they differ: the sender's country
        (["911", "000"], "+999123", "119", "119"),  # no country either: the setting
        ([], "+61412345678", "112", "000"),
    ],
)
def test_the_emergency_number_without_a_clinic(emergency_numbers, sender, setting, told):
    class Row:
        def __init__(self, number):
            self.emergency_number = number

    sms = InboundSms(sid="SMx", from_number=sender)
    clinics = [Row(n) for n in emergency_numbers]
    assert emergency_number_without_clinic(sms, clinics, Senders(emergency_number=setting)) == told


# --- a known patient on the wrong number ----------------------------------------------------


def test_a_patient_of_a_clinic_with_its_own_sender_writing_to_the_shared_one_reaches_it(shared):
    result = _receive(shared, "the bleeding won't stop", BAYS, sid="SMb1")
    bay = _clinic_of(shared, "P2")
    with shared.sessions() as db:
        row = db.get(InboundMessage, result.inbound_id)
    assert (row.clinic_id, row.patient_id) == (bay, _patient(shared, "P2").id)
    assert result.reply is not None and "Bay Physio" in result.reply and "911" in result.reply
    (flag,) = _flags(shared)
    assert (flag.kind, flag.clinic_id) == (FlagKind.CLINIC_TODAY, bay)
    assert [a.destination for a in _alerts(shared)] == [BAY_ONCALL]


def test_stop_to_the_wrong_sender_stops_start_there_does_not_restart(shared):
    _receive(shared, "STOP", BAYS, sid="SMb2", opt_out_type="STOP")
    assert _patient(shared, "P2").opted_out_at is not None  # stopping is the safe side
    _receive(shared, "START", BAYS, sid="SMb3", opt_out_type="START")
    # consent given to the shared number is not consent to Bay's own texts
    assert _patient(shared, "P2").opted_out_at is not None


# --- one phone, two clinics on the shared sender ----------------------------------------------


def test_a_red_flag_reaches_every_clinic_that_treated_the_patient_lately(shared):
    result = _receive(shared, "sharp chest pain when I breathe in", TWIN, sid="SMt1")
    north, south = _clinic_of(shared, "P0"), _clinic_of(shared, "P1")
    # answered as North's patient: North's check-in went out last
    assert result.reply is not None and "North Physio" in result.reply
    flags = _flags(shared)
    assert [(f.kind, f.clinic_id, f.patient_id) for f in flags] == [
        (FlagKind.EMERGENCY, north, _patient(shared, "P0").id),
        (FlagKind.EMERGENCY, south, _patient(shared, "P1").id),
    ]
    assert {f.inbound_id for f in flags} == {result.inbound_id}
    assert result.flag_ids == tuple(f.id for f in flags) and result.flag_id == flags[0].id
    assert sorted(a.destination for a in _alerts(shared)) == [NORTH_ONCALL, SOUTH_ONCALL]
    assert result.alerts == 2


def test_a_score_stays_with_the_clinic_whose_check_in_it_answers(shared):
    result = _receive(shared, "9", TWIN, sid="SMt2")
    (flag,) = _flags(shared)
    assert (flag.kind, flag.clinic_id) == (FlagKind.CALLBACK, _clinic_of(shared, "P0"))
    assert result.flag_ids == (flag.id,)
    assert [a.destination for a in _alerts(shared)] == [NORTH_ONCALL]


def test_a_clinic_that_has_not_seen_the_patient_for_a_month_is_not_told(shared):
    long_ago = DONE - timedelta(days=60)
    south_patient = _patient(shared, "P1").id
    with shared.sessions() as db, db.begin():
        db.execute(
            update(TreatmentSession)
            .where(TreatmentSession.patient_id == south_patient)
            .values(completed_at=long_ago)
        )
        db.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.patient_id == south_patient, OutboundMessage.sent_at.is_not(None)
            )
            .values(sent_at=long_ago + timedelta(days=1))
        )
    _receive(shared, "chest pain", TWIN, sid="SMt3", now=DONE + timedelta(days=2))
    assert [f.clinic_id for f in _flags(shared)] == [_clinic_of(shared, "P0")]
