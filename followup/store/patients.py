"""What followup learns about a patient after import (``patients``): consent given or
withdrawn by the patient, and a number the carrier says cannot receive texts.

Each write records when and how, so "why did this patient get no texts" has an answer. The
pending texts these facts stop or restore are the outbox's
(:mod:`followup.store.outbox.consent`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update
from sqlalchemy.orm import Session

from followup.store.models import Patient

#: the columns' sizes: how an opt-out or a bad number was learnt, how consent was given
MAX_HOW, MAX_CONSENT_METHOD = 120, 32


def record_opt_out(db: Session | Connection, patient_id: int, now: datetime, how: str) -> bool:
    """Record that the patient opted out, when and how. An earlier opt-out keeps its own
    time and way (False then)."""
    result = db.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.opted_out_at.is_(None))
        .values(opted_out_at=now, opted_out_how=how[:MAX_HOW], updated_at=now)
    )
    return result.rowcount == 1


def record_opt_in(db: Session | Connection, patient_id: int, now: datetime, how: str) -> None:
    """Lift an opt-out and record consent given by the patient themselves, now, ``how``."""
    db.execute(
        update(Patient)
        .where(Patient.id == patient_id)
        .values(
            opted_out_at=None,
            opted_out_how=None,
            consent=True,
            consent_at=now,
            consent_method=how[:MAX_CONSENT_METHOD],
            updated_at=now,
        )
    )


def record_unusable_number(
    db: Session | Connection, patient_id: int, now: datetime, why: str
) -> bool:
    """Record that the patient's number cannot receive texts (a landline), when and why. An
    earlier verdict keeps its own (False then); a new number clears it (the importer)."""
    result = db.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.phone_unusable_at.is_(None))
        .values(phone_unusable_at=now, phone_unusable_reason=why[:MAX_HOW], updated_at=now)
    )
    return result.rowcount == 1
