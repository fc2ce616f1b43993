"""Who the clinic's texts no longer go to: patients who opted out (when, and how: a STOP, an
opt-out in their own words, a carrier's refusal), and numbers that cannot take texts (the
carrier said so, or the person who answered said it was the wrong number).

Staff read this list; they cannot take a patient off it. Only the patient can opt in again,
by texting START (or their own words for it) to the clinic's number: consent to texts is
the patient's to give, and a START from the phone itself is what the carrier honours too. A
wrong or unusable number ends when the clinic's system sends the patient's correct number.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from followup.desk.patients import PatientView, view_of
from followup.store import patient_records

#: what the page says about taking someone off the list
HOW_TO_RESUME = (
    "Staff cannot re-subscribe a patient. To get texts again, the patient texts START to the "
    "clinic's number. A wrong or unusable number is cleared when the clinic's system sends "
    "the patient's correct number."
)


@dataclass(frozen=True)
class NotTexted:
    opted_out: tuple[PatientView, ...]
    unusable: tuple[PatientView, ...]
    how_to_resume: str = HOW_TO_RESUME


def not_texted(db: Session, clinic_id: int) -> NotTexted:
    """The clinic's opted-out patients and unusable numbers, latest first."""
    opted, unusable = patient_records.not_textable(db, clinic_id)
    return NotTexted(tuple(view_of(p) for p in opted), tuple(view_of(p) for p in unusable))
