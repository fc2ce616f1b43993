"""Patients (``patients``): how they come in from a clinic's import (upserted by the clinic's
own id, or added one by one for the demo), and what followup learns about them afterwards:
consent given or withdrawn by the patient, and a number the carrier says cannot receive
texts.

Each write records when and how, so "why did this patient get no texts" has an answer. An
import never touches an opt-out: that is the patient's own word, and a clinic's file cannot
undo it. The pending texts these facts stop or restore are the outbox's
(:mod:`followup.store.outbox.consent`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from followup.store.models import Patient

#: the columns' sizes: how an opt-out or a bad number was learnt, how consent was given
MAX_HOW, MAX_CONSENT_METHOD = 120, 32


class PatientRow(NamedTuple):
    """A patient as a clinic's import gives them, keyed by the clinic's own id."""

    clinic_id: int
    external_id: str
    first_name: str
    phone: str
    locale: str | None
    consent: bool


def upsert_imported(
    db: Session, rows: Sequence[PatientRow], now: datetime, *, consent_method: str
) -> dict[tuple[int, str], int]:
    """Insert or update each patient by (clinic, external id), in one statement; returns
    (clinic id, external id) -> row id. The rows' keys must be distinct.

    ``consent_at`` and ``consent_method`` change only when the consent value does: they
    record when and how consent last changed, not every re-import. A new phone number
    clears the carrier's "cannot receive texts", which was about the old one."""
    if not rows:
        return {}
    postgres = db.get_bind().dialect.name == "postgresql"
    table = Patient.__table__
    stmt = (postgresql.insert if postgres else sqlite.insert)(table)
    changed = table.c.consent != stmt.excluded.consent
    new_phone = table.c.phone != stmt.excluded.phone
    stmt = stmt.on_conflict_do_update(
        index_elements=["clinic_id", "external_id"],
        set_={
            "first_name": stmt.excluded.first_name,
            "phone": stmt.excluded.phone,
            "locale": stmt.excluded.locale,
            "consent": stmt.excluded.consent,
            "consent_at": case((changed, stmt.excluded.consent_at), else_=table.c.consent_at),
            "consent_method": case(
                (changed, stmt.excluded.consent_method), else_=table.c.consent_method
            ),
            "phone_unusable_at": case((new_phone, None), else_=table.c.phone_unusable_at),
            "phone_unusable_reason": case((new_phone, None), else_=table.c.phone_unusable_reason),
            "updated_at": stmt.excluded.updated_at,
        },
    ).returning(table.c.id, table.c.clinic_id, table.c.external_id)
    how = consent_method[:MAX_CONSENT_METHOD]
    params = [
        {
            **row._asdict(),
            "consent_at": now,
            "consent_method": how,
            "created_at": now,
            "updated_at": now,
        }
        for row in rows
    ]
    return {(clinic_id, ext): pk for pk, clinic_id, ext in db.execute(stmt, params)}


def by_external_id(db: Session, clinic_id: int, external_id: str) -> Patient | None:
    """The clinic's patient whose own id is ``external_id``, or None."""
    query = select(Patient).where(
        Patient.clinic_id == clinic_id, Patient.external_id == external_id
    )
    return db.scalar(query)


def add(db: Session, row: PatientRow, now: datetime, *, consent_method: str) -> Patient:
    """Add one patient (flushed, so it has its id); consent, if given, is dated ``now``."""
    patient = Patient(
        **row._asdict(),
        consent_at=now if row.consent else None,
        consent_method=consent_method[:MAX_CONSENT_METHOD] if row.consent else None,
    )
    db.add(patient)
    db.flush()
    return patient


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
    """Lift an opt-out. Consent is the clinic's record and stays as it is: a START restores
    what an opt-out took away, never a clinic's recorded "no". (``how`` is kept on the
    revived texts' events, see :mod:`followup.consent`.)"""
    db.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.opted_out_at.is_not(None))
        .values(opted_out_at=None, opted_out_how=None, updated_at=now)
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
