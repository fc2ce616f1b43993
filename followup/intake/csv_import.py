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
  1000 with one ``INSERT .. ON CONFLICT DO UPDATE`` for the batch's patients and one for its
  sessions (:mod:`followup.store.patients`, :mod:`followup.store.sessions`), committed per
  batch; memory stays flat whatever the file size (only the set of session ids already seen
  grows, to report duplicates).

Decisions worth knowing:

- Times without an offset are the clinic's local wall-clock time. One that does not exist
  (skipped when daylight saving time starts) is rejected; an ambiguous one (repeated when it
  ends) is read as the first occurrence (``fold=0``, the daylight-saving one). Times with an
  offset or ``Z`` are converted. All are stored in UTC. A completed session more than
  10 minutes in the future is rejected: it is almost always a time written in another zone.
- A session id repeated in the file (same clinic): the first valid row wins, later ones are
  rejected. A patient repeated in the file: the last row's name, phone, locale and consent win
  (the file's order is the clinic's latest word); a patient given two phones is warned about
  with both lines, since one of them is a typo or an old number.
- A patient's phone must be one a text can reach (:func:`followup.phones.patient_phone`): a
  landline, premium-rate, toll-free or shared-cost number, a pager, a short code... rejects
  the row, and so does one of the service's own numbers (the clinic's phone, its sender, any
  sender of this install): a text there goes to the front desk or loops back in as a reply.
- A first name that holds more than a name (a web or e-mail address, digits, a sentence, many
  words) is cut to its first word, or dropped, and warned about
  (:func:`followup.intake.patient_fields.check_first_name`); the row is imported: the patient
  still gets the aftercare advice.
- Consent is ``yes`` or ``no`` (any case) and nothing else: a guess here would send texts to
  someone who did not agree. ``consent_at``/``consent_method`` ("csv") change only when the
  consent value changes. ``opted_out_at`` is never touched: an opt-out is the patient's own
  word and a clinic's file cannot undo it.
- Region names go through the clinic's region table (the built-in one and its care plan's
  ``[regions]``): a name it does not know is imported as written and warned about with its
  line (the 24 h check-in then asks about breathing, to be safe); it never rejects the row.
- Rows whose fields are all empty (blank lines, Excel's trailing ",,,,") are ignored, not
  counted.
- One bad row never ends the import: a line that is not UTF-8 (a Windows-encoded "José"),
  a field over the csv module's 131,072 characters or a lone carriage return in an unquoted
  field rejects that row, with its line, and the rows after it are read. Only a header that
  cannot be read stops the import, and a first line that is a patient's row rather than a
  header is refused without echoing it.
- A session keeps its patient: re-importing a session id under another patient id is
  rejected with its line (the session's texts were planned for the first patient; moving
  it would leave them behind). A new visit for the other patient needs a new session id.
- Required columns: clinic, session_id, patient_id, first_name, phone, consent, completed_at.
  locale, regions, next_appointment_at and status may be left out; a missing column reads as
  empty in every row. Column names are matched case-insensitively, in any order.

Reading the file and checking each row is :mod:`followup.intake.csv_rows` (pure); this
module runs the import: the loop, the report, the batches and their transactions.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session, sessionmaker

from followup.intake.csv_rows import (
    ClinicLookup,
    CsvFormatError,
    ImportReport,
    Reject,
    Row,
    RowError,
    RowParser,
    open_lines,
    read_header,
)
from followup.intake.writer import RowWriter
from followup.store import clinics

__all__ = ["BATCH_SIZE", "CsvFormatError", "ImportReport", "RowError", "import_csv"]

BATCH_SIZE = 1000
#: how consent given in a clinic's file is recorded
CONSENT_METHOD = "csv"


def import_csv(
    sessions: sessionmaker[Session],
    path: Path | str | TextIO,
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    senders: Iterable[str | None] = (),
) -> ImportReport:
    """Import the sessions in ``path`` (a file name, or an already open text stream).

    ``progress`` is called after every batch with the number of bytes of the file read so
    far (files only), so a caller can draw a bar against the file size. ``senders``: the
    install's own sender numbers (``TWILIO_FROM_NUMBER``), refused as a patient's phone like
    every clinic's phone and sender.
    Raises CsvFormatError for a file that is not an import file, OSError if it can't be read.
    """
    now = now or datetime.now(UTC)
    report = ImportReport()
    writer = _Writer(sessions, now, report)
    with sessions() as db:
        senders = [*senders, *clinics.sender_numbers(db)]
    with open_lines(path) as (lines, tell):
        bad_lines: dict[int, str] = getattr(lines, "bad", {})
        reader = csv.reader(lines)
        columns = read_header(reader)
        parse = RowParser(_clinic_lookup(sessions), columns, now, senders)
        seen: dict[tuple[int, str], int] = {}
        batch: list[Row] = []
        last_line = reader.line_num
        while True:
            line = last_line + 1  # where the next record starts
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                why = _row_error(exc, line, reader.line_num)
                if why is None:
                    writer.write(batch)  # keep what was good so far; re-importing is safe
                    error = _fatal(exc, line, reader.line_num)
                    error.report = report
                    raise error from None
                # the reader starts afresh on the next line: that row goes, the rows after
                # it do not
                last_line = reader.line_num
                report.rows += 1
                report.rejected.append(RowError(line, why))
                continue
            except CsvFormatError as exc:
                writer.write(batch)  # keep what was good so far; re-importing is safe
                error = _fatal(exc, line, reader.line_num)
                error.report = report
                raise error from None
            last_line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            report.rows += 1
            bad = [bad_lines[n] for n in range(line, last_line + 1) if n in bad_lines]
            if bad:
                report.rejected.append(RowError(line, bad[0]))
                continue
            try:
                row = parse(fields, line)
                first = seen.setdefault((row.clinic_id, row.session_id), line)
                if first != line:
                    raise Reject(f"session id {row.session_id!r} already seen on line {first}")
            except Reject as exc:
                report.rejected.append(RowError(line, str(exc)))
                continue
            report.warnings.extend(RowError(line, w) for w in row.warnings)
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


#: the csv module's limit on one field; a longer one rejects its row
MAX_FIELD = csv.field_size_limit()


def _row_error(exc: csv.Error, start: int, line: int) -> str | None:
    """Why the record starting on line ``start`` is rejected, when the csv module's error
    spoils that record alone (it reads the next line afresh); None when it is fatal."""
    message = str(exc)
    if message.startswith("field larger than field limit"):
        why = f"a field is over {MAX_FIELD:,} characters"
        if line != start:
            why += f" (is a quote opened on line {start} never closed?)"
        return why
    if message.startswith("new-line character seen in unquoted field"):
        # a lone CR (an old Mac line end, a pasted note): the csv module ends the record
        # there and refuses the rest of the line
        return "a carriage return inside an unquoted field; quote the field or remove it"
    return None


def _fatal(exc: Exception, start: int, line: int) -> CsvFormatError:
    """The error that stops an import midway, naming the line (see import_csv)."""
    kept = " (rows before this line were imported)"
    if isinstance(exc, CsvFormatError):
        return CsvFormatError(exc.reason + kept, exc.line)
    hint = f"; is a quote opened on line {start} never closed?" if line != start else ""
    return CsvFormatError(f"not readable as CSV: {exc}{hint}{kept}", start)


def _clinic_lookup(factory: sessionmaker[Session]) -> ClinicLookup:
    """The parser's clinic lookup: one short read-only session per slug (the parser caches)."""

    def lookup(slug: str) -> tuple[int, str, str, dict | None, tuple[str, str | None]] | None:
        with factory() as db:
            found = clinics.by_slug(db, slug)
            if found is None:
                return None
            own = (found.phone, found.from_number)
            return found.id, found.country, found.timezone, found.care_plan, own

    return lookup


class _Writer:
    """The shared :class:`followup.intake.writer.RowWriter`, adding its outcome to the report."""

    def __init__(self, factory: sessionmaker[Session], now: datetime, report: ImportReport):
        self.rows = RowWriter(factory, now, CONSENT_METHOD)
        self.report = report

    def write(self, rows: list[Row]) -> None:
        done = self.rows.write(rows)
        self.report.rejected.extend(done.refused)
        self.report.warnings.extend(done.warnings)
        self.report.created += len(done.created)
        self.report.updated += len(done.updated)
