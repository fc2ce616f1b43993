""":func:`followup.inbound.receive.receive` called directly, not through HTTP, on SQLite and
PostgreSQL: a retried webhook, an unknown sender, the check-in a reply answers, and which
clinics a reply reaches. See :class:`support.webhooks.Clinics` for the clinics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from support.seeding import seed_treated
from support.webhooks import BAY_NUMBER, DONE, NOW, OTHER, SHARED

from followup.inbound.receive import Senders
from followup.store.models import Base, Flag, InboundMessage
from followup.store.statuses import FlagKind, FlagStatus, MessageStatus, ReplyKind

UNKNOWN = "+12015550777"
#: the process-wide number, used by clinics without a sender of their own
DEFAULT_NUMBER = "+12015550100"


def rows_per_table(clinics) -> dict[str, int]:
    with clinics.sessions() as db:
        return {
            t.name: db.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.sorted_tables
        }


def stored(clinics, model, row_id):
    with clinics.sessions() as db:
        return db.get(model, row_id)


@pytest.mark.parametrize(
    ("body", "opt_out_type", "flagged"),
    [("I fainted this morning", None, True), ("START", "START", False)],
    ids=["emergency", "opt-in"],
)
def test_a_repeated_message_sid_returns_the_stored_answer_and_writes_nothing(
    clinics, body, opt_out_type, flagged
):
    # Bay has an on-call phone: an emergency there writes a flag and an alert
    first = clinics.receive(body, SHARED, BAY_NUMBER, sid="SMrepeat", opt_out_type=opt_out_type)
    assert first.duplicate is False and (first.flag_id is not None) is flagged
    assert first.alerts == (1 if flagged else 0)
    before, p5 = rows_per_table(clinics), clinics.patient("P5")
    again = clinics.receive(
        body, SHARED, BAY_NUMBER, sid="SMrepeat", opt_out_type=opt_out_type, now=NOW + timedelta(1)
    )
    assert again.duplicate is True
    assert (again.inbound_id, again.reply) == (first.inbound_id, first.reply)
    assert (again.flag_id, again.alerts) == (None, 0)
    assert rows_per_table(clinics) == before
    after = clinics.patient("P5")
    assert (after.consent_at, after.updated_at) == (p5.consent_at, p5.updated_at)


def test_an_unknown_number_is_kept_and_flagged_for_review(clinics):
    result = clinics.receive("who do I ask about parking?", UNKNOWN, sid="SMunknown")
    row = stored(clinics, InboundMessage, result.inbound_id)
    harbor = clinics.clinic_id("harbor")
    assert (row.patient_id, row.clinic_id, row.in_reply_to) == (None, harbor, None)
    assert (row.from_number, row.body, row.kind) == (UNKNOWN, "who do I ask about parking?", "text")
    assert result.reply is not None and result.reply.startswith("Thanks, Harbor Physio staff")
    assert row.reply_body == result.reply
    flag = stored(clinics, Flag, result.flag_id)
    assert (flag.kind, flag.status, flag.reason) == (
        FlagKind.REVIEW,
        FlagStatus.OPEN,
        "reply from an unknown number",
    )
    assert (flag.inbound_id, flag.clinic_id, flag.patient_id) == (row.id, harbor, None)
    assert result.alerts == 0  # the inbox is read; nobody is paged for it


def test_an_unknown_number_writing_to_no_clinic_is_kept_and_told_whom_to_call(clinics):
    result = clinics.receive("hello?", UNKNOWN, "+19995550000", sid="SMnowhere")
    row = stored(clinics, InboundMessage, result.inbound_id)
    assert (row.clinic_id, row.patient_id, row.body) == (None, None, "hello?")
    # no clinic to name, never silence: the emergency number of the sender's country
    assert result.reply is not None and "call 911 now" in result.reply
    assert (row.reply_key, row.reply_body) == ("reply_emergency_unknown", result.reply)
    assert stored(clinics, Flag, result.flag_id).kind == FlagKind.REVIEW
    assert result.alerts == 0  # no clinic, no fallback phone configured here


def test_a_reply_links_to_the_latest_check_in_sent_before_it(clinics):
    early = clinics.receive("3", OTHER, sid="SMbefore")
    assert stored(clinics, InboundMessage, early.inbound_id).in_reply_to is None
    clinics.update_text("P2", "aftercare", status=MessageStatus.SENT, sent_at=DONE)
    for step, days in (("checkin_24h", 1), ("checkin_72h", 3)):
        clinics.update_text("P2", step, status=MessageStatus.SENT, sent_at=DONE + timedelta(days))
    # between the check-ins: the 24 h one (the 72 h one is not sent yet at that time)
    day_2 = clinics.receive("3", OTHER, sid="SMday2", now=DONE + timedelta(days=2))
    assert stored(clinics, InboundMessage, day_2.inbound_id).in_reply_to == clinics.text_id(
        "P2", "checkin_24h"
    )
    assert day_2.flag_id is None
    # after the 72 h check-in, "2 1" is soreness 2 and a worry: read against that check-in
    day_3 = clinics.receive("2 1", OTHER, sid="SMday3", now=DONE + timedelta(days=3, hours=1))
    row = stored(clinics, InboundMessage, day_3.inbound_id)
    assert row.in_reply_to == clinics.text_id("P2", "checkin_72h")
    assert (row.kind, row.score, row.worry) == (ReplyKind.SCORE, 2, True)
    assert stored(clinics, Flag, day_3.flag_id).reason == "bruise or bleeding worries the patient"


def test_a_clinic_without_a_sender_of_its_own_is_reached_on_the_process_wide_one(clinics):
    seed_treated(clinics.sessions, [SHARED], DONE, first_id=7, slug="home", from_number=None)
    # P0 (Harbor) got the latest check-in, so without a sender to go by it would be P0
    clinics.update_text("P0", "checkin_24h", status=MessageStatus.SENT, sent_at=NOW)
    later = NOW + timedelta(minutes=5)
    no_default = clinics.receive("3", SHARED, DEFAULT_NUMBER, sid="SMnodefault", now=later)
    assert stored(clinics, InboundMessage, no_default.inbound_id).patient_id == (
        clinics.patient_id("P0")
    )
    default = Senders(from_number=DEFAULT_NUMBER)
    result = clinics.receive(
        "3", SHARED, DEFAULT_NUMBER, sid="SMdefault", now=later, senders=default
    )
    row = stored(clinics, InboundMessage, result.inbound_id)
    assert (row.patient_id, row.clinic_id) == (clinics.patient_id("P7"), clinics.clinic_id("home"))
    assert result.reply is not None and clinics.patient("P7").first_name in result.reply


@pytest.mark.parametrize(
    "body", ["wrong number, sorry", "I'm not Alex, this is my number now", "numero equivocado"]
)
def test_a_wrong_number_stops_every_text_to_it_at_that_clinic_and_flags_staff(clinics, body):
    """P0 and P1 share Harbor's number; Bay's P5 has the same number too. A stranger answers
    Harbor's text: both Harbor records stop at once, staff are flagged, and the answer names
    no patient. Bay's patient, on another sender, is untouched (the reply was not to Bay)."""
    p0 = clinics.patient("P0")
    name_body = body.replace("Alex", p0.first_name)
    result = clinics.receive(name_body, SHARED, sid="SMwrong")
    row = stored(clinics, InboundMessage, result.inbound_id)
    assert row.kind == ReplyKind.WRONG_NUMBER
    flag = stored(clinics, Flag, result.flag_id)
    assert (flag.kind, flag.status) == (FlagKind.REVIEW, FlagStatus.OPEN)
    assert "wrong number" in flag.reason
    for patient in ("P0", "P1"):
        assert clinics.patient(patient).phone_unusable_at is not None, patient
        assert "wrong number" in clinics.patient(patient).phone_unusable_reason
        pending = [s for s, (status, _) in clinics.texts(patient).items() if status == "scheduled"]
        assert pending == [], patient
    assert clinics.patient("P5").phone_unusable_at is None
    assert result.reply is not None and p0.first_name not in result.reply
    assert "911" in result.reply or "emergency" in result.reply.lower()


def test_an_opt_in_never_overrides_a_recorded_no_and_reaches_only_the_clinic_texted(clinics):
    """P1 (Harbor, consent recorded "no") and P5 (Bay, its own sender) share a number; P5 has
    texted STOP to Bay. A START to Harbor's number lifts nothing at Bay and leaves P1's "no"."""
    from sqlalchemy import update

    from followup.store.engine import transaction
    from followup.store.models import Patient

    with transaction(clinics.sessions) as db:
        db.execute(
            update(Patient).where(Patient.id == clinics.patient_id("P1")).values(consent=False)
        )
    clinics.receive("STOP", SHARED, BAY_NUMBER, sid="SMstop-bay", opt_out_type="STOP")
    assert clinics.patient("P5").opted_out_at is not None
    clinics.receive("START", SHARED, sid="SMstart-harbor", now=NOW + timedelta(minutes=5))
    assert clinics.patient("P1").consent is False  # the clinic's "no" stands
    assert clinics.patient("P5").opted_out_at is not None  # Bay's opt-out stands


def test_an_opt_in_from_a_number_no_sender_knows_opts_in_nothing(clinics):
    clinics.receive("STOP", SHARED, BAY_NUMBER, sid="SMstop-bay2", opt_out_type="STOP")
    clinics.receive("please resume texts", SHARED, "+12015550666", sid="SMresume-unknown",
                    now=NOW + timedelta(minutes=5))  # fmt: skip
    assert clinics.patient("P5").opted_out_at is not None
