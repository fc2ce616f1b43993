"""CSV import of completed sessions: the way in for clinics whose system can only export files.

Why it looks like this:

- Idempotent: the clinic's own ids are the keys. Sessions are upserted by (clinic,
  session_id), patients by (clinic, patient_id), so a clinic can export "everything from the
  last week" every night and nothing is duplicated. Every inserted or updated session gets
  ``plan_pending`` so the planner re-plans it (a changed time moves its texts).
- Forgiving per row, strict per file: a bad row is reported with its physical line number
  (header = line 1) and skipped, the good rows go in; a file that is not the expected CSV at
  all (empty, bad header, not UTF-8) raises :class:`CsvFormatError`.
- Streaming: rows are read with ``csv.reader`` over the open file and written in batches of
  1000 with one dialect-specific ``INSERT .. ON CONFLICT DO UPDATE`` each, committed per
  batch; memory stays flat whatever the file size (only the set of session ids already seen
  grows, to report duplicates).

Decisions worth knowing:

- Times without an offset are the clinic's local wall-clock time. One that does not exist
  (skipped when daylight saving time starts) is rejected; an ambiguous one (repeated when it
  ends) is read as the first occurrence (``fold=0``, the daylight-saving one). Times with an
  offset or ``Z`` are converted. All are stored in UTC. A completed session more than
  10 minutes in the future is rejected: it is almost always a time written in another zone.
- A session id repeated in the file (same clinic): the first valid row wins, later ones are
  rejected. A patient repeated in the file: the last row's name, phone, locale and consent win.
- Consent is ``yes`` or ``no`` (any case) and nothing else: a guess here would send texts to
  someone who did not agree. ``consent_at``/``consent_method`` ("csv") change only when the
  consent value changes. ``opted_out_at`` is never touched: an opt-out is the patient's own
  word and a clinic's file cannot undo it.
- Rows whose fields are all empty (blank lines, Excel's trailing ",,,,") are ignored, not
  counted.
- Required columns: clinic, session_id, patient_id, first_name, phone, consent, completed_at.
  locale, regions, next_appointment_at and status may be left out; a missing column reads as
  empty in every row. Column names are matched case-insensitively, in any order.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Boolean, case, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from followup.intake.clinics import LOCALE
from followup.phones import PhoneError, normalize_phone
from followup.store.models import SESSION_STATUSES, Clinic, Patient, TreatmentSession, utcnow

REQUIRED = ("clinic", "session_id", "patient_id", "first_name", "phone", "consent", "completed_at")
OPTIONAL = ("locale", "regions", "next_appointment_at", "status")
BATCH_SIZE = 1000
MAX_ID = 64
FUTURE_TOLERANCE = timedelta(minutes=10)
_REGION_SEPARATORS = re.compile(r"[\W_]+")


class CsvFormatError(ValueError):
    """The file as a whole is not an import file. ``line`` is set when one line is to blame;
    ``report`` holds what was imported before the problem, if anything was."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line
        self.report: ImportReport | None = None


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True, slots=True)
class _ClinicInfo:
    id: int
    country: str
    zone: ZoneInfo


@dataclass(slots=True)
class _Row:
    line: int
    clinic_id: int
    session_id: str
    patient_id: str
    first_name: str
    phone: str
    locale: str | None
    consent: bool
    completed_at: datetime
    regions: str
    next_appointment_at: datetime | None
    status: str


class _Reject(Exception):
    """Internal: the current row is skipped for this reason."""


def import_csv(
    sessions: sessionmaker[Session],
    path: Path | str | TextIO,
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import the sessions in ``path`` (a file name, or an already open text stream).

    ``progress`` is called after every batch with the number of bytes of the file read so
    far (files only), so a caller can draw a bar against the file size.
    Raises CsvFormatError for a file that is not an import file, OSError if it can't be read.
    """
    now = now or utcnow()
    report = ImportReport()
    writer = _Writer(sessions, now, report)
    with _open(path) as (lines, tell):
        reader = csv.reader(lines)
        columns = _read_header(reader)
        parse = _RowParser(sessions, columns, now)
        seen: dict[tuple[int, str], int] = {}
        batch: list[_Row] = []
        last_line = reader.line_num
        while True:
            line = last_line + 1  # where the next record starts
            try:
                fields = next(reader)
            except StopIteration:
                break
            except (csv.Error, CsvFormatError) as exc:
                writer.write(batch)  # keep what was good so far; re-importing is safe
                error = _fatal(exc, line, reader.line_num)
                error.report = report
                raise error from None
            last_line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            report.rows += 1
            try:
                row = parse(fields, line)
                first = seen.setdefault((row.clinic_id, row.session_id), line)
                if first != line:
                    raise _Reject(f"session id {row.session_id!r} already seen on line {first}")
            except _Reject as exc:
                report.rejected.append(RowError(line, str(exc)))
                continue
            batch.append(row)
            if len(batch) >= batch_size:
                writer.write(batch)
                batch = []
                if progress and tell:
                    progress(tell())
        writer.write(batch)
        if progress and tell:
            progress(tell())
    return report


def _fatal(exc: Exception, start: int, line: int) -> CsvFormatError:
    """The error that stops an import midway, naming the line (see import_csv)."""
    kept = " (rows before this line were imported)"
    if isinstance(exc, CsvFormatError):
        return CsvFormatError(exc.reason + kept, exc.line)
    hint = f"; is a quote opened on line {start} never closed?" if line != start else ""
    return CsvFormatError(f"not readable as CSV: {exc}{hint}{kept}", start)


class _Utf8Lines:
    """A binary file as text lines, decoded one line at a time so that an encoding error
    names its exact line (a text wrapper decodes 8 KB ahead), and bytes read are known."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.bytes_read = 0

    def __iter__(self) -> Iterator[str]:
        for number, chunk in enumerate(self.raw, start=1):
            self.bytes_read += len(chunk)
            if number == 1 and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            try:
                yield chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CsvFormatError(
                    f"not UTF-8 text (byte {exc.start + 1} of the line); "
                    'save the file as "CSV UTF-8"',
                    number,
                ) from None


@contextmanager
def _open(path: Path | str | TextIO) -> Iterator[tuple[Iterable[str], Callable[[], int] | None]]:
    """Text lines of the file (UTF-8, BOM or not) and a function telling bytes read so far."""
    if hasattr(path, "read"):
        yield path, None  # type: ignore[misc]
        return
    with open(path, "rb") as raw:
        lines = _Utf8Lines(raw)
        yield lines, lambda: lines.bytes_read


def _read_header(reader: Iterator[list[str]]) -> dict[str, int]:
    """Column name -> position; CsvFormatError naming every problem with the header."""
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CsvFormatError(f"not readable as CSV: {exc}", 1) from None
    if header is None:
        raise CsvFormatError(f"the file is empty; expected a header line: {','.join(REQUIRED)}")
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    expected = f"expected columns {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})"
    if len(names) == 1 and ";" in names[0]:
        raise CsvFormatError(f"fields are separated by ';', expected ','; {expected}", 1)
    problems = []
    unknown = [n for n in names if n not in REQUIRED + OPTIONAL]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        problems.append(f"unknown column{'s' if len(unknown) > 1 else ''} {shown}")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        problems.append("repeated column " + ", ".join(doubled))
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        problems.append("missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing))
    if problems:
        raise CsvFormatError("; ".join(problems) + f"; {expected}", 1)
    return {n: i for i, n in enumerate(names)}


def _normalize_or_reason(raw: str, country: str) -> tuple[str | None, str | None]:
    try:
        return normalize_phone(raw, country), None
    except PhoneError as exc:
        return None, str(exc)


class _RowParser:
    """Validates one row into a :class:`_Row`; raises _Reject with every problem found."""

    def __init__(self, sessions: sessionmaker[Session], columns: dict[str, int], now: datetime):
        self.sessions = sessions
        self.columns = columns
        self.now = now
        self.clinics: dict[str, _ClinicInfo | str] = {}
        # patients recur across rows; libphonenumber is the slowest step per row
        self.phone = lru_cache(maxsize=65536)(_normalize_or_reason)

    def clinic(self, slug: str) -> _ClinicInfo | str:
        """The clinic for ``slug``, or why it can't be used (cached, misses too)."""
        if slug not in self.clinics:
            with self.sessions() as s:
                found = s.scalar(select(Clinic).where(Clinic.slug == slug))
            if found is None:
                self.clinics[slug] = f"clinic: no clinic {slug!r}"
            else:
                try:
                    zone = ZoneInfo(found.timezone)
                except (ZoneInfoNotFoundError, ValueError):
                    problem = f"clinic: {slug!r} has unknown time zone {found.timezone!r}"
                    self.clinics[slug] = problem
                else:
                    self.clinics[slug] = _ClinicInfo(found.id, found.country, zone)
        return self.clinics[slug]

    def __call__(self, fields: list[str], line: int) -> _Row:
        if len(fields) != len(self.columns):
            raise _Reject(f"expected {len(self.columns)} fields, found {len(fields)}")
        values = {name: fields[i].strip() for name, i in self.columns.items()}
        if any("\x00" in v for v in values.values()):
            raise _Reject("contains a NUL character; is this a text file?")
        # a line break or tab in a name would end up inside a text message
        values["first_name"] = " ".join(values["first_name"].split())
        get = values.get
        errors: list[str] = []

        def required(name: str, limit: int = MAX_ID) -> str:
            value = get(name, "")
            if not value:
                errors.append(f"{name}: required")
            elif len(value) > limit:
                errors.append(f"{name}: longer than {limit} characters")
            return value

        slug = required("clinic").lower()
        session_id = required("session_id")
        patient_id = required("patient_id")
        first_name = required("first_name")
        consent_raw = required("consent")
        completed_raw = required("completed_at")
        phone_raw = required("phone")

        consent = consent_raw.lower() == "yes"
        if consent_raw and consent_raw.lower() not in ("yes", "no"):
            errors.append(f"consent: expected yes or no, got {consent_raw!r}")
        locale = get("locale", "") or None
        if locale and not LOCALE.match(locale):
            errors.append(f"locale: {locale!r} is not a language code such as 'en' or 'es-MX'")
        status = (get("status", "") or "completed").lower()
        if status not in SESSION_STATUSES:
            errors.append(f"status: expected completed or cancelled, got {status!r}")
        regions = _regions(get("regions", ""))

        clinic = self.clinic(slug) if slug else "clinic: required"
        phone = completed_at = next_at = None
        if isinstance(clinic, str):
            if slug:
                errors.insert(0, clinic)
        else:
            if phone_raw:
                phone, problem = self.phone(phone_raw, clinic.country)
                if problem:
                    errors.append(f"phone: {problem}")
            if completed_raw:
                completed_at = _parse_time(completed_raw, clinic.zone, "completed_at", errors)
            next_raw = get("next_appointment_at", "")
            if next_raw:
                next_at = _parse_time(next_raw, clinic.zone, "next_appointment_at", errors)
            if completed_at and next_at and next_at <= completed_at:
                errors.append(
                    f"next_appointment_at: {next_raw} is not after completed_at {completed_raw}"
                )
            if (
                completed_at
                and status == "completed"
                and completed_at > self.now + FUTURE_TOLERANCE
            ):
                errors.append(
                    f"completed_at: {completed_raw} is in the future (times without an offset "
                    f"are read in the clinic's zone, {clinic.zone.key})"
                )
        if errors or isinstance(clinic, str) or not phone or not completed_at:
            raise _Reject("; ".join(errors))
        return _Row(
            line=line,
            clinic_id=clinic.id,
            session_id=session_id,
            patient_id=patient_id,
            first_name=first_name,
            phone=phone,
            locale=locale,
            consent=consent,
            completed_at=completed_at,
            regions=regions,
            next_appointment_at=next_at,
            status=status,
        )


def _regions(value: str) -> str:
    """``"Neck; Upper back;neck"`` -> ``"neck;upper_back"``: lowercase snake case, no repeats."""
    parts = (_REGION_SEPARATORS.sub("_", p.lower()).strip("_") for p in value.split(";"))
    return ";".join(dict.fromkeys(p for p in parts if p))


def _parse_time(value: str, zone: ZoneInfo, name: str, errors: list[str]) -> datetime | None:
    """ISO 8601 -> aware UTC; without an offset, wall-clock time in ``zone`` (see module doc)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors.append(
            f"{name}: {value!r} is not an ISO 8601 date and time "
            "(e.g. 2025-03-14T16:30 or 2025-03-14T16:30:00-04:00)"
        )
        return None
    if "T" not in value.upper() and " " not in value:
        errors.append(f"{name}: {value!r} has a date but no time of day")
        return None
    try:
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        instant = parsed.replace(tzinfo=zone).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) != parsed:
            errors.append(
                f"{name}: {value} does not exist in {zone.key} (clocks skip it when daylight "
                "saving time starts); give the time with its UTC offset"
            )
            return None
        return instant
    except OverflowError:
        errors.append(f"{name}: {value!r} is out of range")
        return None


class _Writer:
    """Upserts one batch of valid rows per transaction and counts created/updated sessions."""

    def __init__(self, sessions: sessionmaker[Session], now: datetime, report: ImportReport):
        self.sessions = sessions
        self.now = now
        self.report = report

    def write(self, rows: list[_Row]) -> None:
        if not rows:
            return
        with self.sessions() as s, s.begin():
            postgres = s.get_bind().dialect.name == "postgresql"
            insert = postgresql.insert if postgres else sqlite.insert
            patient_ids = self._upsert_patients(s, insert, rows)
            stmt = insert(TreatmentSession.__table__)
            updated = ("patient_id", "completed_at", "status", "regions", "next_appointment_at")
            stmt = stmt.on_conflict_do_update(
                index_elements=["clinic_id", "external_id"],
                set_={
                    **{c: stmt.excluded[c] for c in updated},
                    "plan_pending": True,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
            params = [
                {
                    "clinic_id": r.clinic_id,
                    "external_id": r.session_id,
                    "patient_id": patient_ids[(r.clinic_id, r.patient_id)],
                    "completed_at": r.completed_at,
                    "status": r.status,
                    "regions": r.regions,
                    "next_appointment_at": r.next_appointment_at,
                    "plan_pending": True,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                for r in rows
            ]
            if postgres:
                # xmax is 0 only on a row version this statement inserted. (A lookup of the
                # existing ids first is slow here: during a large import the table's
                # statistics are stale and the planner scans it for every batch.)
                stmt = stmt.returning(literal_column("(xmax = 0)", Boolean))
                created = sum(1 for (inserted,) in s.execute(stmt, params) if inserted)
            else:
                created = len(rows) - len(self._existing_sessions(s, rows))
                s.execute(stmt, params)
        self.report.created += created
        self.report.updated += len(rows) - created

    def _upsert_patients(self, s: Session, insert, rows: list[_Row]) -> dict[tuple[int, str], int]:
        """Upsert each patient once (the last row wins); (clinic id, patient id) -> row id."""
        latest = {(r.clinic_id, r.patient_id): r for r in rows}
        table = Patient.__table__
        stmt = insert(table)
        # consent_at/method record when and how consent last changed, not every re-import
        changed = table.c.consent != stmt.excluded.consent
        # a new number is a new chance: the carrier's "cannot receive texts" was about the old
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
                "phone_unusable_reason": case(
                    (new_phone, None), else_=table.c.phone_unusable_reason
                ),
                "updated_at": stmt.excluded.updated_at,
            },
        ).returning(table.c.id, table.c.clinic_id, table.c.external_id)
        result = s.execute(
            stmt,
            [
                {
                    "clinic_id": r.clinic_id,
                    "external_id": r.patient_id,
                    "first_name": r.first_name,
                    "phone": r.phone,
                    "locale": r.locale,
                    "consent": r.consent,
                    "consent_at": self.now,
                    "consent_method": "csv",
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                for r in latest.values()
            ],
        )
        return {(clinic_id, ext): pk for pk, clinic_id, ext in result}

    def _existing_sessions(self, s: Session, rows: list[_Row]) -> set[tuple[int, str]]:
        by_clinic: dict[int, list[str]] = defaultdict(list)
        for r in rows:
            by_clinic[r.clinic_id].append(r.session_id)
        found: set[tuple[int, str]] = set()
        ts = TreatmentSession
        for clinic_id, ids in by_clinic.items():
            query = select(ts.external_id).where(ts.clinic_id == clinic_id, ts.external_id.in_(ids))
            found.update((clinic_id, ext) for ext in s.scalars(query))
        return found
