"""The CSV import under fuzzing (hypothesis): random bytes, random encodings, random headers,
and garbage rows of every kind interleaved with valid rows.

What must hold whatever the file holds:
- the import raises nothing but :class:`CsvFormatError` (a file that is not an import file);
- every valid row among the garbage is imported: a bad row never costs a good one;
- no phone number or name of the file shows in the report, an error or the project's logs
  (they are printed, mailed from cron and pasted into tickets).

Garbage here is garbage a file can hold and still be read line by line: any bytes but the
double quote (a quote opening a field legitimately swallows the lines up to the next one), and
records of random fields written with correct quoting (quotes, commas and line breaks
inside). Each example starts from empty patient and session tables.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from followup.intake.clinics import add_clinic
from followup.intake.csv_import import CsvFormatError, ImportReport, import_csv
from followup.intake.csv_rows import OPTIONAL, REQUIRED
from followup.phones import PhoneError, normalize_phone, patient_phone
from followup.store.engine import make_engine, make_sessionmaker, transaction
from followup.store.models import Patient, TreatmentSession

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
COLUMNS = REQUIRED + OPTIONAL
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: letters of names: ASCII, Latin-1 and beyond (the encodings test keeps to Latin-1)
LATIN1_LETTERS = "abcdefghijklmnopqrstuvwxyzAEIOUJMNRSTáéíóúàèñçüöøåÁÉÑÇÜÖßÿ"
LETTERS = LATIN1_LETTERS + "ễłŁőğşčřžŠœĐ"


@pytest.fixture
def clinics(sqlite_url):
    """The two clinics, on SQLite only: what is fuzzed is the reader and the row checks, the
    same code on both databases (test_csv_import runs the writer on both), and a fuzz run
    on PostgreSQL would cost minutes."""
    sessions = make_sessionmaker(make_engine(sqlite_url))
    with transaction(sessions) as s:
        add_clinic(
            s, slug="downtown", name="Downtown", timezone="America/New_York", phone="201-555-0100"
        )
        add_clinic(
            s,
            slug="london",
            name="London",
            timezone="Europe/London",
            phone="020 7946 0018",
            country="GB",
        )
    return sessions


def reset(sessions) -> None:
    with transaction(sessions) as s:
        s.execute(delete(TreatmentSession))
        s.execute(delete(Patient))


# --- what rows hold --------------------------------------------------------------------------


#: what turns a name into a message
MESSAGE_TAILS = (
    ". Your account is locked, call +1 900 555 0100",
    " www.refund.example",
    "@mail.co",
)


def names(letters: str = LETTERS) -> st.SearchStrategy[str]:
    """First names: one or two words, or a message where a name should be."""
    word = st.builds(
        lambda a, b: a.upper() + b,
        st.sampled_from("ABDEGJKLMNPRSTVZ"),
        st.text(alphabet=letters, min_size=3, max_size=12),
    )
    return st.one_of(
        word,
        st.builds(lambda a, b: f"{a} {b}", word, word),
        st.builds(lambda a, b: a + b, word, st.sampled_from(MESSAGE_TAILS)),
    )


def patient_phone_ok(raw: str, country: str) -> bool:
    try:
        patient_phone(raw, country)
    except PhoneError:
        return False
    return True


@st.composite
def phones(draw) -> tuple[str, str]:
    """(clinic, phone as a clinic writes it) a text can reach."""
    if draw(st.booleans()):
        n = draw(st.integers(200, 9999))  # 201-555-0100 is the clinic's own
        spelled = draw(st.sampled_from(["201-555-{}", "(201) 555-{}", "+1 201 555 {}", "201555{}"]))
        return "downtown", spelled.format(f"{n:04d}")
    return "london", draw(st.sampled_from(GB_MOBILES))


#: UK mobiles (libphonenumber knows only some 07911 ranges as assigned)
GB_MOBILES = [
    spelled
    for n in range(100000, 1000000, 7919)
    if (spelled := f"07911 {n}") and patient_phone_ok(spelled, "GB")
]


@dataclass
class Valid:
    clinic: str
    session_id: str
    patient_id: str
    first_name: str
    phone: str
    consent: str
    completed_at: str
    locale: str
    regions: str

    def fields(self, columns: list[str]) -> list[str]:
        return [getattr(self, c, "") for c in columns]


@st.composite
def valid_rows(draw, letters: str = LETTERS) -> Valid:
    clinic, phone = draw(phones())
    return Valid(
        clinic=draw(st.sampled_from([clinic, clinic.upper()])),
        session_id="",  # numbered when the file is laid out: unique per file
        patient_id=f"P{draw(st.integers(0, 5))}",
        first_name=draw(names(letters)),
        phone=phone,
        consent=draw(st.sampled_from(["yes", "no", "YES"])),
        completed_at=draw(st.sampled_from(["2025-05-30T16:30", "2025-05-01 08:00:00Z"])),
        locale=draw(st.sampled_from(["", "en", "es-MX"])),
        regions=draw(st.sampled_from(["", "neck; Upper back", "calf"])),
    )


#: phones no text reaches (premium-rate, toll-free, a short code) or the clinic's own
UNTEXTABLE = ("+1 900 555 0142", "1-800-555-0142", "+44 909 123 4567", "22395", "201-555-0100")


@st.composite
def spoiled_rows(draw) -> Valid:
    """A valid row with one field spoiled: rejected, and its name and phone never echoed."""
    row = draw(valid_rows())
    # required columns only: every header has them (a spoiled optional one could be left out)
    spoil = draw(st.sampled_from(["phone", "consent", "completed_at", "clinic"]))
    spoiled = {"consent": "maybe", "completed_at": "30/05/2025", "clinic": "nowhere"}
    setattr(row, spoil, spoiled.get(spoil) or draw(st.sampled_from(UNTEXTABLE)))
    return row


def csv_record(fields: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue().encode("utf-8", "surrogatepass")


GARBAGE = st.one_of(
    # any bytes but a quote, as one or more lines (a stray CR, NUL, invalid UTF-8...)
    st.binary(max_size=80).map(lambda b: b.replace(b'"', b"").rstrip(b"\n") + b"\n"),
    # records of any fields, correctly quoted; now and then one over the csv module's limit
    st.lists(st.text(max_size=20), max_size=14).map(csv_record),
    st.just(b"downtown,S,P," + b"A" * 140_000 + b",201-555-0123,yes\n"),
    st.just(b",,,,,,,,,\n"),
)


@dataclass
class File:
    data: bytes
    valid: list[Valid]
    spoiled: list[Valid]
    header_ok: bool


def lay_out(columns: list[str], items: list, header_ok: bool = True) -> File:
    """The file's bytes: a header of ``columns``, then each item (a Valid or spoiled row, or
    garbage bytes) in order. Session ids are numbered here so that no two rows share one."""
    data = csv_record(columns)
    valid, spoiled = [], []
    for number, item in enumerate(items):
        if isinstance(item, bytes):
            data += item
            continue
        kind, row = item
        row.session_id = f"S{number}"
        (valid if kind == "valid" else spoiled).append(row)
        data += csv_record(row.fields(columns))
    return File(data, valid, spoiled, header_ok)


ITEMS = st.lists(
    st.one_of(
        valid_rows().map(lambda r: ("valid", r)),
        spoiled_rows().map(lambda r: ("spoiled", r)),
        GARBAGE,
    ),
    max_size=25,
)


def run(sessions, path: Path, caplog) -> tuple[ImportReport | None, list[str]]:
    """Import ``path``; the report (None when the file was refused) and every message a
    person would read: rejections, warnings, the file's error and the log."""
    caplog.clear()
    messages: list[str] = []
    report = None
    try:
        report = import_csv(sessions, path, now=NOW)
    except CsvFormatError as exc:
        messages.append(str(exc))
        report = exc.report
    if report is not None:
        messages += [e.reason for e in report.rejected + report.warnings]
    messages += [r.getMessage() for r in caplog.records]
    return report, messages


def imported(sessions) -> set[str]:
    with sessions() as s:
        return set(s.scalars(select(TreatmentSession.external_id)))


def assert_nothing_echoed(file: File, messages: list[str]) -> None:
    """No name or phone of a row, as written or as stored, in what a person reads. A value
    the file also holds elsewhere (a garbage field that happens to contain it) is skipped:
    an echo of that field is no leak of the patient's."""
    text = file.data.decode("utf-8", "replace")
    said = "\n".join(messages)
    rows = file.valid + file.spoiled
    for row in rows:
        country = "US" if row.clinic.lower() == "downtown" else "GB"
        secrets = {row.first_name, row.phone, "".join(c for c in row.phone if c.isdigit())}
        with contextlib.suppress(ValueError):
            secrets.add(normalize_phone(row.phone, country))
        for secret in secrets:
            carried = sum(r.first_name.count(secret) + r.phone.count(secret) for r in rows)
            if len(secret) < 4 or text.count(secret) > carried:
                continue  # elsewhere in the file too
            assert secret not in said, (secret, said)


# --- the properties --------------------------------------------------------------------------


@pytest.mark.slow
@FUZZ
@given(items=ITEMS)
def test_garbage_among_valid_rows_costs_no_valid_row_and_echoes_nothing(
    clinics, tmp_path, caplog, items
):
    caplog.set_level(logging.DEBUG, logger="followup")
    reset(clinics)
    file = lay_out(list(COLUMNS), items)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(file.data)
    report, messages = run(clinics, path, caplog)
    assert report is not None, messages  # the header is right: the file is always read
    assert imported(clinics) == {r.session_id for r in file.valid}
    rejected = {e.line for e in report.rejected}
    assert len(rejected) == len(report.rejected)  # one reason per rejected row
    assert_nothing_echoed(file, messages)


@st.composite
def headers(draw) -> tuple[list[str], bool]:
    """Column names in any order and case, maybe padded; sometimes one missing or unknown."""
    columns = list(REQUIRED) + draw(st.lists(st.sampled_from(OPTIONAL), unique=True))
    columns = draw(st.permutations(columns))
    spelled = [draw(st.sampled_from([c, c.upper(), f" {c} ", c.title()])) for c in columns]
    ok = True
    mistake = draw(st.sampled_from([None, None, "drop", "unknown"]))
    if mistake == "drop":
        dropped = spelled.pop(draw(st.integers(0, len(spelled) - 1)))
        ok = dropped.strip().lower() not in REQUIRED
    elif mistake == "unknown":
        spelled.insert(0, draw(st.text(alphabet="abcdefgh_", min_size=1, max_size=70)))
        name = spelled[0].strip().lower()
        ok = name in COLUMNS and name not in [c.strip().lower() for c in spelled[1:]]
    return spelled, ok


@pytest.mark.slow
@FUZZ
@given(header=headers(), items=ITEMS)
def test_any_header_either_reads_every_valid_row_or_refuses_the_file_at_line_1(
    clinics, tmp_path, caplog, header, items
):
    reset(clinics)
    spelled, ok = header
    columns = [c.strip().lower() for c in spelled]
    file = lay_out(columns, items)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(file.data.replace(csv_record(columns), csv_record(spelled), 1))
    report, messages = run(clinics, path, caplog)
    if ok:
        assert report is not None, messages
        assert imported(clinics) == {r.session_id for r in file.valid}
    else:
        assert report is None and messages[0].startswith("line 1: "), messages
        assert imported(clinics) == set()
    assert_nothing_echoed(file, messages)


@pytest.mark.slow
@FUZZ
@given(
    rows=st.lists(valid_rows(LATIN1_LETTERS), min_size=1, max_size=12),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"]),
)
def test_a_file_in_another_encoding_loses_only_the_rows_it_cannot_read(
    clinics, tmp_path, caplog, rows, encoding
):
    """Saved as Latin-1 or Windows-1252, a row with an accent is not UTF-8: that row alone is
    rejected, with its line; UTF-16 is refused as a whole, saying how to save the file."""
    reset(clinics)
    file = lay_out(list(COLUMNS), [("valid", r) for r in rows])
    path = tmp_path / "fuzz.csv"
    path.write_bytes(file.data.decode().encode(encoding))
    report, messages = run(clinics, path, caplog)
    if encoding == "utf-16":
        assert report is None and messages == [
            'line 1: the file is UTF-16 text; save it as "CSV UTF-8"'
        ]
    elif encoding.startswith("utf-8"):
        assert imported(clinics) == {r.session_id for r in rows}
    else:
        readable = {r.session_id for r in rows if r.first_name.isascii()}
        assert imported(clinics) == readable
        assert all("not UTF-8 text" in e.reason for e in report.rejected)
        assert len(report.rejected) == len(rows) - len(readable)
    assert_nothing_echoed(file, messages)


@pytest.mark.slow
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_raise_nothing_but_a_clear_file_error(clinics, tmp_path, caplog, data):
    reset(clinics)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    run(clinics, path, caplog)  # a report or CsvFormatError; anything else fails the test
    header = csv_record(list(COLUMNS))
    path.write_bytes(header + data)
    report, messages = run(clinics, path, caplog)
    assert report is not None, messages
