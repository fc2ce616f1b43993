"""FHIR intake with the database: map an Encounter or a Bundle
(:mod:`followup.intake.fhir_encounters`, pure) and write its rows with the writer the CSV
import uses (:mod:`followup.intake.writer`).

A ``transaction`` is all or nothing: any entry refused (by the mapping, or by the writer
because its session belongs to another patient) and nothing is written, every other entry
answered ``400 Bad Request`` with an issue saying the transaction failed. A ``batch`` (and a
lone Encounter) writes each good entry: ``201 Created`` for a new session, ``200 OK`` for
one already known (re-posting is safe: sessions are keyed by the clinic's identifier),
``409 Conflict`` for a session of another patient, ``400 Bad Request`` with its issues.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from followup.intake.csv_import import _clinic_lookup
from followup.intake.fhir_encounters import FhirError, Issue, Mapped, map_fhir
from followup.intake.writer import RowWriter
from followup.store import clinics

__all__ = ["CONSENT_METHOD", "FhirError", "import_fhir"]

#: how consent given in a FHIR resource (or the clinic's default for one) is recorded
CONSENT_METHOD = "fhir"


def import_fhir(
    factory: sessionmaker[Session],
    data: Any,
    *,
    clinic: str,
    now: datetime | None = None,
    senders: Iterable[str | None] = (),
    consent_default: bool = False,
    session_system: str | None = None,
    patient_system: str | None = None,
) -> Mapped:
    """Import ``data`` (decoded JSON) for the clinic ``clinic`` (slug); FhirError when it is
    neither an Encounter nor a transaction or batch Bundle. Every entry of the result has
    its ``status``; :func:`~followup.intake.fhir_encounters.response_bundle` and
    :func:`~followup.intake.fhir_encounters.operation_outcome` answer from it."""
    now = now or datetime.now(UTC)
    with factory() as db:
        senders = [*senders, *clinics.sender_numbers(db)]
    mapped = map_fhir(
        data,
        clinic=clinic,
        lookup=_clinic_lookup(factory),
        now=now,
        senders=senders,
        consent_default=consent_default,
        session_system=session_system,
        patient_system=patient_system,
    )
    atomic = mapped.kind == "transaction"
    if atomic and mapped.failed:
        _fail_rest(mapped)
        return mapped
    by_line = {e.number: e for e in mapped.entries}
    done = RowWriter(factory, now, CONSENT_METHOD).write(mapped.rows, all_or_nothing=atomic)
    for refused in done.refused:
        e = by_line[refused.line]
        e.issues.append(Issue("error", "conflict", refused.reason, ["Encounter.subject"]))
        e.status, e.location = "409 Conflict", None
    for warning in done.warnings:
        e = by_line[warning.line]
        e.issues.append(Issue("warning", "informational", warning.reason, ["Patient.telecom"]))
    if atomic and done.refused:
        _fail_rest(mapped)
        return mapped
    for line in done.created:
        by_line[line].status = "201 Created"
    for line in done.updated:
        by_line[line].status = "200 OK"
    stored = {e.patient for e in mapped.entries if e.status[:1] == "2" and e.location}
    for e in mapped.entries:
        if e.resource_type == "Patient" and not e.failed and e.number not in stored:
            if any(i.code == "informational" for i in e.issues):
                continue  # no Encounter refers to it: said already
            e.issues.append(
                Issue(
                    "information",
                    "informational",
                    "Patient: not stored, since no Encounter referring to it was written",
                    ["Patient"],
                )
            )
    return mapped


def _fail_rest(mapped: Mapped) -> None:
    """A failed transaction: the entries that were fine are not written either."""
    bad = sorted(e.number for e in mapped.entries if e.failed)
    for e in mapped.entries:
        if e.failed:
            e.status = e.status or "400 Bad Request"
            continue
        e.row, e.location = None, None
        e.status = "400 Bad Request"
        e.issues.append(
            Issue(
                "error",
                "processing",
                "not written: the transaction failed at entry " + ", ".join(str(n) for n in bad),
            )
        )
