"""Finding a clinic's patient, reading their record, and the settings staff (or the clinic's
system) may change on it: consent, an opt-out the patient gave by other means, language and
time zone.

A patient of another clinic is :class:`~followup.desk.errors.NotFound`, like one that does
not exist. Every read of one patient's record is audited (``patient.view``), every change
too (``patient.update``); the audit never holds the patient's phone or words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from followup import consent as consent_rules
from followup.access import audit
from followup.desk.errors import DeskError, NotFound
from followup.intake.clinic_fields import LOCALE
from followup.phones import PhoneError, normalize_phone
from followup.store import patient_records
from followup.store.models import Patient
from followup.store.session_records import clinic_facts

#: how consent set by staff or the API is recorded (``consent_method``)
CONSENT_METHOD = "staff"
#: an opt-out staff record for the patient (who asked by phone, at the desk...)
OPT_OUT_HOW = "staff"


@dataclass(frozen=True)
class PatientView:
    """A patient as staff see them."""

    id: int
    patient_id: str
    first_name: str
    phone: str
    locale: str | None
    timezone: str | None
    consent: bool
    consent_at: datetime | None
    consent_method: str | None
    opted_out: bool
    opted_out_at: datetime | None
    opted_out_how: str | None
    phone_unusable: bool
    phone_unusable_at: datetime | None
    phone_unusable_reason: str | None

    @property
    def can_be_texted(self) -> bool:
        """Whether a text may go to them now: consent given, no opt-out, a usable number."""
        return self.consent and not self.opted_out and not self.phone_unusable

    @property
    def why_not_texted(self) -> str | None:
        """Why no text goes to them, in staff words, or None."""
        if self.opted_out:
            return f"opted out ({self.opted_out_how or 'how is not recorded'})"
        if self.phone_unusable:
            return f"the number cannot receive texts ({self.phone_unusable_reason or 'unknown'})"
        if not self.consent:
            return "no consent to texts on record"
        return None


def view_of(r: Patient) -> PatientView:
    """The view of a patient row: what the web shows, without the model."""
    return PatientView(
        id=r.id,
        patient_id=r.external_id,
        first_name=r.first_name,
        phone=r.phone,
        locale=r.locale,
        timezone=r.timezone,
        consent=bool(r.consent),
        consent_at=r.consent_at,
        consent_method=r.consent_method,
        opted_out=r.opted_out_at is not None,
        opted_out_at=r.opted_out_at,
        opted_out_how=r.opted_out_how,
        phone_unusable=r.phone_unusable_at is not None,
        phone_unusable_at=r.phone_unusable_at,
        phone_unusable_reason=r.phone_unusable_reason,
    )


def find_patients(db: Session, clinic_id: int, query: str) -> list[PatientView]:
    """The clinic's patients matching ``query``: part of a first name (any case), a phone
    in any format the clinic's country writes it (``(201) 555-0123``, ``+1 201 555 0123``),
    or the clinic's own patient id. Empty for an empty query."""
    query = " ".join(query.split())
    if not query:
        return []
    if len(query) > 100:
        raise DeskError("q", "at most 100 characters")
    facts = clinic_facts(db, clinic_id)
    country = facts.country if facts is not None else "US"
    phone = None
    if sum(ch.isdigit() for ch in query) >= 6:
        try:
            phone = normalize_phone(query, country)
        except PhoneError:
            phone = None
    rows = patient_records.search(db, clinic_id, name=query, phone=phone, external_id=query)
    return [view_of(r) for r in rows]


def get_patient(
    db: Session, clinic_id: int, patient_id: int, *, now: datetime, actor: str
) -> PatientView:
    """The clinic's patient (row id), audited as a view of their record."""
    row = patient_records.patient(db, clinic_id, patient_id)
    if row is None:
        raise NotFound("patient")
    audit.record(
        db, actor=actor, action="patient.view", now=now, clinic_id=clinic_id,
        subject=f"patient:{row.id}",
    )  # fmt: skip
    return view_of(row)


def patient_row_id(db: Session, clinic_id: int, external_id: str) -> int:
    """The row id of the clinic's patient with its own id ``external_id``; NotFound."""
    row = patient_records.patient_by_external_id(db, clinic_id, external_id)
    if row is None:
        raise NotFound("patient")
    return row.id


def update_patient(
    db: Session,
    clinic_id: int,
    patient_id: int,
    *,
    now: datetime,
    actor: str,
    consent: bool | None = None,
    opted_out: bool | None = None,
    locale: str | None = None,
    timezone: str | None = None,
    clear: frozenset[str] = frozenset(),
) -> PatientView:
    """Change what is given: ``consent`` (the clinic's record of it), ``opted_out=True``
    (the patient asked staff to stop: their waiting texts are skipped at once), ``locale``,
    ``timezone``; ``clear`` names the fields set back to the clinic's default (``locale``,
    ``timezone``). Checked as an import checks them; nothing is written when one is bad.

    Lifting an opt-out (``opted_out=False`` on a patient who opted out) is refused: only the
    patient can, by texting START. The patient's texts are planned again with the new facts
    (a "no" skips what waits; a "yes" revives what "no consent" skipped)."""
    row = patient_records.patient(db, clinic_id, patient_id)
    if row is None:
        raise NotFound("patient")
    changes: dict[str, object] = {}
    if locale is not None:
        if not LOCALE.match(locale):
            raise DeskError("locale", f"{locale!r} is not a language code such as 'en' or 'es-MX'")
        changes["locale"] = locale
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DeskError("timezone", "not a time zone name such as 'America/New_York'") from None
        changes["timezone"] = timezone
    for name in clear:
        if name not in ("locale", "timezone"):
            raise DeskError(name, "cannot be cleared")
        changes[name] = None
    if consent is not None:
        changes["consent"] = consent
    if opted_out is False and row.opted_out_at is not None:
        raise DeskError(
            "opted_out",
            "an opt-out is lifted only by the patient (texting START); staff cannot lift it",
        )
    done = []
    if changes:
        patient_records.set_fields(
            db, clinic_id, patient_id, now, consent_method=CONSENT_METHOD, **changes
        )
        done.append(", ".join(f"{k}={'(default)' if v is None else v}" for k, v in changes.items()))
    if opted_out and row.opted_out_at is None:
        skipped = consent_rules.mark_opted_out(db, patient_id, now, OPT_OUT_HOW + f" ({actor})")
        done.append(f"opted out, {skipped} waiting texts skipped")
    if changes:
        patient_records.replan_patient(db, clinic_id, patient_id)
    if done:
        audit.record(
            db, actor=actor, action="patient.update", now=now, clinic_id=clinic_id,
            subject=f"patient:{patient_id}", detail="; ".join(done),
        )  # fmt: skip
    db.flush()
    db.expire_all()
    fresh = patient_records.patient(db, clinic_id, patient_id)
    assert fresh is not None
    return view_of(fresh)
