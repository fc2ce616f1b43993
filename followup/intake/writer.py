"""The one writer of checked intake rows, whichever way they came in (a CSV file, a FHIR
``Encounter`` or ``Bundle``): both readers produce :class:`followup.intake.csv_rows.Row`
values that went through the same :class:`~followup.intake.csv_rows.RowParser`, and this
module upserts them. Keeping a single writer is what makes the rules the same for both:
a session keeps its patient (re-importing it under another patient id is refused), a
patient given two phones is warned about, the last row's name, phone, locale and consent
win, and consent's time and method change only when its value does.

The writer tells each row's fate (created, updated, or refused and why) so a FHIR batch can
answer one status per entry; the CSV import only counts them. ``all_or_nothing`` (a FHIR
``transaction``) writes nothing when any row is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from followup.intake.csv_rows import Row, RowError
from followup.intake.patient_fields import PhoneChanges
from followup.store import patients
from followup.store import sessions as treatment_sessions
from followup.store.patients import PatientRow
from followup.store.sessions import SessionRow

__all__ = ["RowWriter", "Written"]


@dataclass
class Written:
    """What one call of :meth:`RowWriter.write` did, by row line (entry number for FHIR)."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    refused: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)


class RowWriter:
    """Upserts one batch of valid rows per transaction. ``consent_method`` records how
    consent was given ("csv", "fhir"). Phones are remembered across batches, so a patient
    given two phones anywhere in one import is told. Without a ``factory`` it writes only
    in a caller's transaction (:meth:`write_in`)."""

    def __init__(
        self, factory: sessionmaker[Session] | None, now: datetime, consent_method: str
    ) -> None:
        self.factory = factory
        self.now = now
        self.consent_method = consent_method
        self.phones = PhoneChanges()

    def write(self, rows: list[Row], *, all_or_nothing: bool = False) -> Written:
        """Write ``rows`` in a transaction of their own (committed here)."""
        if not rows:
            return Written()
        assert self.factory is not None, "a writer without a factory writes with write_in"
        with self.factory() as db, db.begin():
            return self.write_in(db, rows, all_or_nothing=all_or_nothing)

    def write_in(self, db: Session, rows: list[Row], *, all_or_nothing: bool = False) -> Written:
        """Write ``rows`` in the caller's transaction (``db``), not committing it: the API's
        session upsert writes its audit event in the same transaction."""
        done = Written()
        if not rows:
            return done
        owners = treatment_sessions.patients_of(db, [(r.clinic_id, r.session_id) for r in rows])
        moved = [
            r for r in rows if owners.get((r.clinic_id, r.session_id), r.patient_id) != r.patient_id
        ]
        for r in moved:
            # a session's texts were planned for its patient: moving it would leave them with
            # the old one (and every later tick failing on the outbox's unique key)
            done.refused.append(
                RowError(
                    r.line,
                    f"session {r.session_id!r} belongs to patient "
                    f"{owners[(r.clinic_id, r.session_id)]!r}; a session keeps its patient, "
                    "so import this visit under a new session_id",
                )
            )
        if moved and all_or_nothing:
            return done
        gone = {id(r) for r in moved}
        rows = [r for r in rows if id(r) not in gone]
        if not rows:
            return done
        for r in rows:  # in input order: the later row's phone is the one stored
            changed = self.phones.note((r.clinic_id, r.patient_id), r.patient_id, r.phone, r.line)
            if changed:
                done.warnings.append(RowError(r.line, changed))
        # a patient repeated in the batch: the last row's name, phone, locale and consent win
        latest = {(r.clinic_id, r.patient_id): r for r in rows}
        people = [
            PatientRow(r.clinic_id, r.patient_id, r.first_name, r.phone, r.locale, r.consent)
            for r in latest.values()
        ]
        ids = patients.upsert_imported(db, people, self.now, consent_method=self.consent_method)
        treatment_sessions.upsert_imported(
            db,
            [
                SessionRow(
                    clinic_id=r.clinic_id,
                    external_id=r.session_id,
                    patient_id=ids[(r.clinic_id, r.patient_id)],
                    completed_at=r.completed_at,
                    status=r.status,
                    regions=r.regions,
                    next_appointment_at=r.next_appointment_at,
                )
                for r in rows
            ],
            self.now,
        )
        for r in rows:
            (done.updated if (r.clinic_id, r.session_id) in owners else done.created).append(r.line)
        return done
