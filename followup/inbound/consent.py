"""What a patient said about being texted, and what the carrier said about their number.

Every path that learns something here goes through these functions: a STOP in a reply, a
21610 when sending, an opt-in by START, a 30006 (landline) from a status callback. Each
records when and how on the patient, and skips or restores the patient's pending texts with
an event per text, so "why did this patient get no texts" always has an answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from followup.store.models import OutboundMessage, Patient
from followup.store.outbox import transition

#: the reason prefix an opt-out leaves on skipped texts; an opt-in revives exactly those
OPTED_OUT = "opted out"
UNUSABLE = "number cannot receive texts"
#: Twilio's verdicts about a patient: they replied STOP to this sender; the number is a landline
OPTED_OUT_ERROR = "21610"
LANDLINE_ERROR = "30006"


def _skip_pending(
    db: Session | Connection, patient_id: int, now: datetime, reason: str, actor: str
) -> int:
    pending = db.scalars(
        select(OutboundMessage.id).where(
            OutboundMessage.patient_id == patient_id, OutboundMessage.status == "scheduled"
        )
    ).all()
    return sum(
        transition(db, message_id, "scheduled", "skipped", at=now, reason=reason, actor=actor)
        for message_id in pending
    )


def mark_opted_out(db: Session | Connection, patient_id: int, now: datetime, how: str) -> int:
    """Record an opt-out (when, how) and skip every pending text of the patient.

    Returns the texts skipped. An earlier opt-out keeps its own time and way."""
    db.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.opted_out_at.is_(None))
        .values(opted_out_at=now, opted_out_how=how[:120], updated_at=now)
    )
    return _skip_pending(db, patient_id, now, f"{OPTED_OUT}: {how}", "opt-out")


def mark_opted_in(db: Session | Connection, patient_id: int, now: datetime, how: str) -> int:
    """Lift an opt-out: the patient asked for texts again (START, "resume"), which is also
    consent given by the patient themselves. Texts skipped by the opt-out that can still go
    out (their window has not ended) are scheduled again. Returns the texts revived."""
    db.execute(
        update(Patient)
        .where(Patient.id == patient_id)
        .values(
            opted_out_at=None,
            opted_out_how=None,
            consent=True,
            consent_at=now,
            consent_method=how[:32],
            updated_at=now,
        )
    )
    revivable = db.scalars(
        select(OutboundMessage.id).where(
            OutboundMessage.patient_id == patient_id,
            OutboundMessage.status == "skipped",
            OutboundMessage.reason.like(f"{OPTED_OUT}%"),
            OutboundMessage.expires_at > now,
        )
    ).all()
    return sum(
        transition(
            db,
            message_id,
            "skipped",
            "scheduled",
            at=now,
            reason=f"opted in: {how}",
            actor="opt-in",
        )
        for message_id in revivable
    )


def mark_phone_unusable(db: Session | Connection, patient_id: int, now: datetime, why: str) -> int:
    """The carrier says this number cannot get texts (a landline): stop trying until the
    clinic corrects the number (a new number clears it, see the importer). Returns texts
    skipped."""
    db.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.phone_unusable_at.is_(None))
        .values(phone_unusable_at=now, phone_unusable_reason=why[:120], updated_at=now)
    )
    return _skip_pending(db, patient_id, now, f"{UNUSABLE}: {why}", "carrier")


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
