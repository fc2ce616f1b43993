"""Reading an import file: its lines, its header and each row into checked values.

No database, network or thread: it reads the file it is given and nothing else (one of the
pure modules of ``tests/test_architecture.py``). A row names its clinic by slug; the caller
passes a lookup that tells the clinic's id, country and time zone, so rows can be checked
and times read in the clinic's zone without this module knowing where clinics are kept.
Writing the rows is :mod:`followup.intake.csv_import`, whose docstring lists the rules a
row must follow.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followup.intake.clinic_fields import LOCALE
from followup.intake.patient_fields import check_first_name, check_phone, own_numbers
from followup.outbound.careplan import CarePlanError, plan_for
from followup.outbound.regions import DEFAULT_TABLE, RegionTable, split_regions
from followup.store.statuses import SessionStatus
from followup.store.statuses import values as enum_values

REQUIRED = ("clinic", "session_id", "patient_id", "first_name", "phone", "consent", "completed_at")
OPTIONAL = ("locale", "regions", "next_appointment_at", "status")
MAX_ID = 64
FUTURE_TOLERANCE = timedelta(minutes=10)
SESSION_STATUSES = enum_values(SessionStatus)
_REGION_SEPARATORS = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class RowError:
    """A row skipped: its physical line (header = line 1) and every problem found in it."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did: rows read (blank ones not counted), sessions created and updated,
    rows rejected, and warnings about rows imported all the same (a region name the clinic's
    region table does not know)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated


class CsvFormatError(ValueError):
    """The file as a whole is not an import file. ``line`` is set when one line is to blame;
    ``report`` holds what was imported before the problem, if anything was."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line
        self.report: ImportReport | None = None


@dataclass(frozen=True, slots=True)
class ClinicInfo:
    id: int
    country: str
    zone: ZoneInfo
    #: the region names the clinic's care plan knows
    regions: RegionTable = DEFAULT_TABLE
    #: numbers that are never a patient's (E.164 -> what it is), see
    #: :func:`followup.intake.patient_fields.own_numbers`
    own: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Row:
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
    #: why the row is imported with a caution (it is imported all the same)
    warnings: list[str] = field(default_factory=list)


class Reject(Exception):
    """The current row is skipped for this reason."""


class Utf8Lines:
    """A binary file as text lines, decoded one line at a time so that an encoding error
    names its exact line (a text wrapper decodes 8 KB ahead), and bytes read are known.

    A line that is not UTF-8 (a Windows-encoded "José") is read with the bad bytes replaced
    and remembered in :attr:`bad`, so the import rejects that row with its line and goes on:
    one bad byte must not drop every row after it. The header must be UTF-8."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.bytes_read = 0
        #: line number -> why it is not text
        self.bad: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        for number, chunk in enumerate(self.raw, start=1):
            self.bytes_read += len(chunk)
            if number == 1 and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            elif number == 1 and chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                # Excel's "Unicode Text": every other byte is 0, no line would read
                raise CsvFormatError('the file is UTF-16 text; save it as "CSV UTF-8"', 1)
            try:
                yield chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                why = (
                    f"not UTF-8 text (byte {exc.start + 1} of the line); "
                    'save the file as "CSV UTF-8"'
                )
                if number == 1:
                    raise CsvFormatError(why, number) from None
                self.bad[number] = why
                yield chunk.decode("utf-8", "replace")


@contextmanager
def open_lines(
    path: Path | str | TextIO,
) -> Iterator[tuple[Iterable[str], Callable[[], int] | None]]:
    """Text lines of the file (UTF-8, BOM or not) and a function telling bytes read so far."""
    if hasattr(path, "read"):
        yield path, None  # type: ignore[misc]
        return
    with open(path, "rb") as raw:
        lines = Utf8Lines(raw)
        yield lines, lambda: lines.bytes_read


def read_header(reader: Iterator[list[str]]) -> dict[str, int]:
    """Column name -> position; CsvFormatError naming every problem with the header."""
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CsvFormatError(f"not readable as CSV: {exc}", 1) from None
    if header is None:
        raise CsvFormatError(f"the file is empty; expected a header line: {','.join(REQUIRED)}")
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    expected = f"expected columns {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})"
    if not set(names) & set(REQUIRED + OPTIONAL) and len(names) > 1:
        # a file without its header: line 1 is a patient's row; say so without echoing it
        raise CsvFormatError(f"line 1 is not a header (no column names in it); {expected}", 1)
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


#: a clinic's (id, country, IANA time zone name) by slug, optionally with its stored care plan
#: (for its region names) as a fourth item and its (phone, sender number) as a fifth (the
#: ``Any`` tuple); None when there is no such clinic
ClinicLookup = Callable[[str], "tuple[int, str, str] | tuple[int, str, str, Any] | None"]


class RowParser:
    """Validates one row into a :class:`Row`; raises Reject with every problem found.

    ``senders``: the numbers this service sends texts from (the install's own, every
    clinic's), which are never a patient's phone."""

    def __init__(
        self,
        lookup: ClinicLookup,
        columns: dict[str, int],
        now: datetime,
        senders: Iterable[str | None] = (),
    ):
        self.lookup = lookup
        self.columns = columns
        self.now = now
        self.senders = tuple(senders)
        self.clinics: dict[str, ClinicInfo | str] = {}
        # patients recur across rows; libphonenumber is the slowest step per row, and
        # judging a name the next one
        self.phone = lru_cache(maxsize=65536)(self._phone)
        self.first_name = lru_cache(maxsize=65536)(check_first_name)

    def _phone(self, raw: str, slug: str) -> tuple[str | None, str]:
        clinic = self.clinics[slug]
        assert isinstance(clinic, ClinicInfo)
        return check_phone(raw, clinic.country, clinic.own)

    def clinic(self, slug: str) -> ClinicInfo | str:
        """The clinic for ``slug``, or why it can't be used (cached, misses too)."""
        if slug not in self.clinics:
            found = self.lookup(slug)
            if found is None:
                self.clinics[slug] = f"clinic: no clinic {slug!r}"
            else:
                clinic_id, country, timezone = found[:3]
                try:
                    zone = ZoneInfo(timezone)
                except (ZoneInfoNotFoundError, ValueError):
                    problem = f"clinic: {slug!r} has unknown time zone {timezone!r}"
                    self.clinics[slug] = problem
                else:
                    plan = found[3] if len(found) > 3 else None
                    phone, sender = found[4] if len(found) > 4 else (None, None)
                    own = own_numbers(phone, sender, self.senders, country)
                    self.clinics[slug] = ClinicInfo(clinic_id, country, zone, _regions(plan), own)
        return self.clinics[slug]

    def __call__(self, fields: list[str], line: int) -> Row:
        if len(fields) != len(self.columns):
            raise Reject(f"expected {len(self.columns)} fields, found {len(fields)}")
        values = {name: fields[i].strip() for name, i in self.columns.items()}
        if any("\x00" in v for v in values.values()):
            raise Reject("contains a NUL character; is this a text file?")
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
        # a message in the name field is cut to the first name, or dropped, before it is
        # measured: the patient still gets the aftercare advice, greeted without a name
        first_name, name_warning = self.first_name(get("first_name", ""))
        if not get("first_name", ""):
            errors.append("first_name: required")
        elif len(first_name) > MAX_ID:
            errors.append(f"first_name: longer than {MAX_ID} characters")
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
        regions = regions_of(get("regions", ""))

        clinic = self.clinic(slug) if slug else "clinic: required"
        phone = completed_at = next_at = None
        if isinstance(clinic, str):
            if slug:
                errors.insert(0, clinic)
        else:
            if phone_raw:
                phone, problem = self.phone(phone_raw, slug)
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
            raise Reject("; ".join(errors))
        unknown = clinic.regions.unknown(split_regions(regions))
        warnings = [name_warning] if name_warning else []
        if unknown:
            warnings.append(
                f"regions: {', '.join(repr(u) for u in unknown)} not in the region table; the "
                "24 h check-in asks about breathing to be safe (add the name to the care plan's "
                "[regions] if it is a known region)"
            )
        return Row(
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
            warnings=warnings,
        )


def _regions(stored_plan: Any) -> RegionTable:
    """The region table of a clinic's stored plan (the default one when it has none, or
    when it no longer reads: the planner reports that, not the import)."""
    try:
        return plan_for(stored_plan).regions
    except CarePlanError:
        return DEFAULT_TABLE


def regions_of(value: str) -> str:
    """``"Neck; Upper back;neck"`` -> ``"neck;upper_back"``: lowercase snake case, no repeats."""
    parts = (_REGION_SEPARATORS.sub("_", p.lower()).strip("_") for p in value.split(";"))
    return ";".join(dict.fromkeys(p for p in parts if p))


#: the earliest year a session or an appointment can be in
EARLIEST_YEAR = 2000


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
    if parsed.year < EARLIEST_YEAR:
        # year 1900 or 0001: a placeholder or a typo in the clinic's system, never a visit
        errors.append(f"{name}: {value!r} is before {EARLIEST_YEAR}: check the year")
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
