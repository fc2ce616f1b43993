"""What a patient said about being texted, and what the carrier said about their number.

Every path that learns something here goes through these functions: a STOP in a reply, a
21610 when sending, an opt-in by START, a 30006 (landline) from a status callback. Each
records when and how on the patient (:mod:`followup.store.patients`), and skips or restores
the patient's pending texts with an event per text (:mod:`followup.store.outbox.consent`),
so "why did this patient get no texts" always has an answer. The decisions are here: which
texts an opt-in revives (those its opt-out skipped, by their reason) and what each move says.

Both flows learn these things (a reply in inbound, a send's error in outbound, a status
callback in inbound again) and the dispatcher's last check reads the reasons written here,
so the module sits beside both flows rather than inside either; it uses the store alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from followup.store import patients
from followup.store.outbox.consent import reschedule_skipped, skip_pending

#: the reason prefix an opt-out leaves on skipped texts; an opt-in revives exactly those
OPTED_OUT = "opted out"
UNUSABLE = "number cannot receive texts"
#: Twilio's verdicts about a patient: they replied STOP to this sender; the number is a landline
OPTED_OUT_ERROR = "21610"
LANDLINE_ERROR = "30006"


def mark_opted_out(db: Session | Connection, patient_id: int, now: datetime, how: str) -> int:
    """Record an opt-out (when, how) and skip every pending text of the patient.

    Returns the texts skipped. An earlier opt-out keeps its own time and way."""
    patients.record_opt_out(db, patient_id, now, how)
    return skip_pending(db, patient_id, now=now, reason=f"{OPTED_OUT}: {how}", actor="opt-out")


def mark_opted_in(db: Session | Connection, patient_id: int, now: datetime, how: str) -> int:
    """Lift an opt-out: the patient asked for texts again (START, "resume"). Texts skipped by
    the opt-out that can still go out (their window has not ended) are scheduled again.
    Consent stays the clinic's record: a patient the clinic recorded as "no" gets nothing
    from a START (the planner still sees no consent). Returns the texts revived."""
    patients.record_opt_in(db, patient_id, now, how)
    return reschedule_skipped(
        db,
        patient_id,
        skipped_because=OPTED_OUT,
        now=now,
        reason=f"opted in: {how}",
        actor="opt-in",
    )


def mark_phone_unusable(db: Session | Connection, patient_id: int, now: datetime, why: str) -> int:
    """The carrier says this number cannot get texts (a landline): stop trying until the
    clinic corrects the number (a new number clears it, see the importer). Returns texts
    skipped."""
    patients.record_unusable_number(db, patient_id, now, why)
    return skip_pending(db, patient_id, now=now, reason=f"{UNUSABLE}: {why}", actor="carrier")


def mark_wrong_number(db: Session | Connection, patient_id: int, now: datetime, how: str) -> int:
    """Someone who is not the patient answered: stop every text to this number at once, as
    for a number that cannot take texts, until the clinic corrects it (a new number clears
    it at the next import). Returns the texts skipped."""
    return mark_phone_unusable(db, patient_id, now, f"wrong number ({how})")


def record_carrier_error(
    db: Session | Connection, patient_id: int, now: datetime, code: str, *, opted_out: bool = False
) -> None:
    """What a provider error says about the patient, whether it came with a send (the
    dispatcher) or later in a status callback: an opt-out (21610, or a gateway that says so)
    or a number that cannot get texts (30006). Other codes are about the text alone."""
    how = f"provider error {code}"
    if opted_out or code == OPTED_OUT_ERROR:
        mark_opted_out(db, patient_id, now, how=how)
    elif code == LANDLINE_ERROR:
        mark_phone_unusable(db, patient_id, now, how)
