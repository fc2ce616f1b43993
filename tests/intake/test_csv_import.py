"""CSV import of sessions: per-row rejections with physical line numbers, idempotent upserts,
local times in the clinic's zone, and a file-level error for files that are not import files."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from followup.intake.clinics import add_clinic
from followup.intake.csv_import import CsvFormatError, RowError, import_csv
from followup.store.engine import transaction
from followup.store.models import Patient, TreatmentSession

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HEADER = (
    "clinic,session_id,patient_id,first_name,phone,locale,consent,completed_at,regions,"
    "next_appointment_at"
)


@pytest.fixture
def clinics(sessions) -> dict[str, int]:
    with transaction(sessions) as s:
        downtown, _ = add_clinic(
            s,
            slug="downtown",
            name="Downtown Physio",
            timezone="America/New_York",
            phone="201-555-0100",
        )
        london, _ = add_clinic(
            s,
            slug="london",
            name="London Physio",
            timezone="Europe/London",
            phone="020 7946 0018",
            country="GB",
        )
    return {"downtown": downtown.id, "london": london.id}


def write(tmp_path: Path, *lines: str, name: str = "sessions.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def run(sessions, path: Path, **kwargs):
    return import_csv(sessions, path, now=NOW, **kwargs)


def all_sessions(sessions) -> dict[str, TreatmentSession]:
    with sessions() as s:
        return {t.external_id: t for t in s.scalars(select(TreatmentSession))}


def all_patients(sessions) -> dict[str, Patient]:
    with sessions() as s:
        return {p.external_id: p for p in s.scalars(select(Patient))}


def count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_it_imports_sessions_and_patients(sessions, clinics, tmp_path) -> None:
    path = write(
        tmp_path,
        HEADER,
        "downtown,S1,P1, Ann ,(201) 555-0123,es,yes,2025-05-30T16:30,Neck; Upper Back;neck,"
        "2025-06-06T09:00",
        "london,S1,P9,Bob,07911 123456,,No,2025-05-30T16:30:00Z,,",
    )
    report = run(sessions, path)
    assert (report.rows, report.created, report.updated, report.imported) == (2, 2, 0, 2)
    assert report.rejected == []

    with sessions() as s:
        rows = s.scalars(select(TreatmentSession).order_by(TreatmentSession.clinic_id)).all()
        patients = {p.id: p for p in s.scalars(select(Patient))}
    ny, ldn = rows
    assert ny.clinic_id == clinics["downtown"]
    assert ny.external_id == "S1"
    assert ny.completed_at == datetime(2025, 5, 30, 20, 30, tzinfo=UTC)  # EDT is UTC-4
    assert ny.next_appointment_at == datetime(2025, 6, 6, 13, 0, tzinfo=UTC)
    assert ny.regions == "neck;upper_back"
    assert ny.status == "completed"
    assert ny.plan_pending is True
    ann = patients[ny.patient_id]
    assert (ann.external_id, ann.first_name, ann.phone) == ("P1", "Ann", "+12015550123")
    assert ann.locale == "es"
    assert (ann.consent, ann.consent_at, ann.consent_method) == (True, NOW, "csv")
    assert ann.opted_out_at is None

    assert ldn.clinic_id == clinics["london"]
    assert ldn.completed_at == datetime(2025, 5, 30, 16, 30, tzinfo=UTC)
    assert ldn.regions == ""
    assert ldn.next_appointment_at is None
    bob = patients[ldn.patient_id]
    assert (bob.phone, bob.locale) == ("+447911123456", None)
    assert (bob.consent, bob.consent_at, bob.consent_method) == (False, NOW, "csv")


def test_every_rejection_names_its_physical_line(sessions, clinics, tmp_path) -> None:
    good = "downtown,{sid},P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,"
    path = write(
        tmp_path,
        HEADER,  # 1
        good.format(sid="S1"),  # 2
        "nowhere,S2,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,",  # 3
        "downtown,S3,P1,Ann,555-555-0100,,yes,2025-05-30T16:30,,",  # 4
        "downtown,S4,P1,Ann,201-555-0123,,maybe,2025-05-30T16:30,,",  # 5
        "downtown,S5,P1,Ann,201-555-0123,,yes,30/05/2025 16:30,,",  # 6
        good.format(sid="S1"),  # 7
        "downtown,S6,P1,,201-555-0123,,yes,2025-05-30T16:30,,",  # 8
        "downtown,S7,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,2025-05-29T10:00",  # 9
        '"downtown","S8","P8","Ann\nMarie",201-555-0123,,yes,2025-05-30T16:30,,',  # 10-11
        "downtown,S9,P1,Ann,201-555-0123,english,yes,2025-05-30T16:30,,",  # 12
        "downtown,S10,P1,Ann,201-555-0123,,yes,2025-05-30,,",  # 13
        "downtown,S11,P1,Ann,201-555-0123,,yes,2025-03-09T02:30,,",  # 14
        "downtown,S12,P1,Ann,201-555-0123,,yes",  # 15
        "downtown,S13,P1,Ann,201-555-0123,,yes,2025-06-02T09:00,,",  # 16
        ",,,,,,,,,",  # 17
        ",S14,,Ann,not a phone,,,,,",  # 18
        "downtown," + "x" * 65 + ",P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,",  # 19
        good.format(sid="S15"),  # 20
    )
    report = run(sessions, path)
    assert report.rejected == [
        RowError(3, "clinic: no clinic 'nowhere'"),
        RowError(4, "phone: not a valid number for US"),
        RowError(5, "consent: expected yes or no, got 'maybe'"),
        RowError(
            6,
            "completed_at: '30/05/2025 16:30' is not an ISO 8601 date and time "
            "(e.g. 2025-03-14T16:30 or 2025-03-14T16:30:00-04:00)",
        ),
        RowError(7, "session id 'S1' already seen on line 2"),
        RowError(8, "first_name: required"),
        RowError(
            9, "next_appointment_at: 2025-05-29T10:00 is not after completed_at 2025-05-30T16:30"
        ),
        RowError(12, "locale: 'english' is not a language code such as 'en' or 'es-MX'"),
        RowError(13, "completed_at: '2025-05-30' has a date but no time of day"),
        RowError(
            14,
            "completed_at: 2025-03-09T02:30 does not exist in America/New_York "
            "(clocks skip it when daylight saving time starts); give the time with "
            "its UTC offset",
        ),
        RowError(15, "expected 10 fields, found 7"),
        RowError(
            16,
            "completed_at: 2025-06-02T09:00 is in the future (times without an offset "
            "are read in the clinic's zone, America/New_York)",
        ),
        RowError(
            18, "clinic: required; patient_id: required; consent: required; completed_at: required"
        ),
        RowError(19, "session_id: longer than 64 characters"),
    ]
    # line 10-11 holds a quoted name spanning two lines: valid, and the next row is line 12
    assert report.rejected[7].line == 12
    assert (report.rows, report.created, report.updated) == (17, 3, 0)
    stored = all_sessions(sessions)
    assert sorted(stored) == ["S1", "S15", "S8"]
    # the line break inside the quoted name is folded: it would end up inside a text
    assert all_patients(sessions)["P8"].first_name == "Ann Marie"


def test_a_row_with_several_problems_names_all_of_them(sessions, clinics, tmp_path) -> None:
    path = write(tmp_path, HEADER, "downtown,S1,P1,Ann,12,xx_YY,sure,yesterday,,soon")
    report = run(sessions, path)
    assert report.rejected == [
        RowError(
            2,
            (
                "consent: expected yes or no, got 'sure'; "
                "locale: 'xx_YY' is not a language code such as 'en' or 'es-MX'; "
                "phone: not a valid number for US; "
                "completed_at: 'yesterday' is not an ISO 8601 date and time "
                "(e.g. 2025-03-14T16:30 or 2025-03-14T16:30:00-04:00); "
                "next_appointment_at: 'soon' is not an ISO 8601 date and time "
                "(e.g. 2025-03-14T16:30 or 2025-03-14T16:30:00-04:00)"
            ),
        )
    ]
    assert count(sessions, TreatmentSession) == 0
    assert count(sessions, Patient) == 0


def test_reimport_updates_and_never_duplicates(sessions, clinics, tmp_path) -> None:
    first = write(
        tmp_path,
        HEADER,
        "downtown,S1,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,neck,",
        "downtown,S2,P1,Ann,201-555-0123,,yes,2025-05-31T10:00,,",
        "downtown,S3,P2,Bob,201-555-0124,,no,2025-05-31T11:00,,",
        name="first.csv",
    )
    assert (run(sessions, first).created, count(sessions, Patient)) == (3, 2)
    with transaction(sessions) as s:
        s.execute(update(TreatmentSession).values(plan_pending=False))

    second = write(
        tmp_path,
        "next_appointment_at,Regions,COMPLETED_AT,consent,locale,phone,first_name,patient_id,session_id,clinic,status",
        "2025-06-04T08:00,Low back,2025-05-30T17:00,yes,es,201-555-0199,Annie,P1,S1,downtown,",
        ",,2025-05-31T10:00,yes,,201-555-0199,Annie,P1,S2,downtown,cancelled",
        ",,2025-05-31T12:00,yes,,201-555-0124,Bob,P2,S4,downtown,",
        name="second.csv",
    )
    report = run(sessions, second)
    assert (report.rows, report.created, report.updated, report.rejected) == (3, 1, 2, [])
    assert count(sessions, TreatmentSession) == 4
    assert count(sessions, Patient) == 2
    stored = all_sessions(sessions)
    assert {k for k, t in stored.items() if t.plan_pending} == {"S1", "S2", "S4"}
    assert stored["S1"].completed_at == datetime(2025, 5, 30, 21, 0, tzinfo=UTC)
    assert stored["S1"].regions == "low_back"
    assert stored["S1"].next_appointment_at == datetime(2025, 6, 4, 12, 0, tzinfo=UTC)
    assert stored["S2"].status == "cancelled"
    assert stored["S3"].status == "completed"
    patients = all_patients(sessions)
    # the patient's last row in the file wins: S2 left the locale empty
    assert (patients["P1"].first_name, patients["P1"].phone, patients["P1"].locale) == (
        "Annie",
        "+12015550199",
        None,
    )

    # the same file a third time: nothing new, everything re-planned
    with transaction(sessions) as s:
        s.execute(update(TreatmentSession).values(plan_pending=False))
    again = run(sessions, second)
    assert (again.created, again.updated) == (0, 3)
    assert count(sessions, TreatmentSession) == 4
    pending = {k for k, t in all_sessions(sessions).items() if t.plan_pending}
    assert pending == {"S1", "S2", "S4"}


def test_consent_time_changes_only_with_consent_and_opt_out_is_kept(
    sessions, clinics, tmp_path
) -> None:
    row = "downtown,{sid},P1,Ann,201-555-0123,,{consent},2025-05-30T16:30,,"
    run(sessions, write(tmp_path, HEADER, row.format(sid="S1", consent="no")))
    p = all_patients(sessions)["P1"]
    assert (p.consent, p.consent_at) == (False, NOW)
    opted_out = datetime(2025, 5, 31, 8, 0, tzinfo=UTC)
    with transaction(sessions) as s:
        s.execute(update(Patient).values(opted_out_at=opted_out, consent_method="sms"))

    later = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    import_csv(sessions, write(tmp_path, HEADER, row.format(sid="S1", consent="NO")), now=later)
    p = all_patients(sessions)["P1"]
    assert (p.consent, p.consent_at, p.consent_method) == (False, NOW, "sms")  # unchanged

    import_csv(sessions, write(tmp_path, HEADER, row.format(sid="S2", consent="Yes")), now=later)
    p = all_patients(sessions)["P1"]
    assert (p.consent, p.consent_at, p.consent_method) == (True, later, "csv")
    assert p.opted_out_at == opted_out  # a CSV never undoes an opt-out


def test_naive_times_in_the_clinics_zone_around_dst(sessions, clinics, tmp_path) -> None:
    path = write(
        tmp_path,
        HEADER,
        # winter (EST, UTC-5) and summer (EDT, UTC-4)
        "downtown,S1,P1,Ann,201-555-0123,,yes,2025-01-15T09:00,,",
        "downtown,S2,P1,Ann,201-555-0123,,yes,2025-05-15T09:00:00,,",
        # 2025-03-09 02:00-03:00 does not exist in New York
        "downtown,S3,P1,Ann,201-555-0123,,yes,2025-03-09T02:30,,",
        # 01:30 happens twice on 2024-11-03: the first (EDT) is taken
        "downtown,S4,P1,Ann,201-555-0123,,yes,2024-11-03T01:30,,",
        # an explicit offset picks the second one
        "downtown,S5,P1,Ann,201-555-0123,,yes,2024-11-03T01:30-05:00,,",
        # London: BST gap on 2025-03-30 01:00-02:00
        "london,S6,P2,Bob,07911 123456,,yes,2025-03-30T01:30,,",
        "london,S7,P2,Bob,07911 123456,,yes,2025-03-30 02:30,,",
        "downtown,S8,P1,Ann,201-555-0123,,yes,2025-05-15 09:00Z,,",
        "downtown,S9,P1,Ann,201-555-0123,,yes,2025-05-15T09:00+02:00,,",
    )
    report = run(sessions, path)
    assert [(e.line, e.reason.split(" does not exist")[0]) for e in report.rejected] == [
        (4, "completed_at: 2025-03-09T02:30"),
        (7, "completed_at: 2025-03-30T01:30"),
    ]
    assert "Europe/London" in report.rejected[1].reason
    at = {k: t.completed_at for k, t in all_sessions(sessions).items()}
    assert at == {
        "S1": datetime(2025, 1, 15, 14, 0, tzinfo=UTC),
        "S2": datetime(2025, 5, 15, 13, 0, tzinfo=UTC),
        "S4": datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
        "S5": datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
        "S7": datetime(2025, 3, 30, 1, 30, tzinfo=UTC),
        "S8": datetime(2025, 5, 15, 9, 0, tzinfo=UTC),
        "S9": datetime(2025, 5, 15, 7, 0, tzinfo=UTC),
    }


def test_it_reads_a_bom_and_crlf_line_endings(sessions, clinics, tmp_path) -> None:
    path = tmp_path / "excel.csv"
    lines = [HEADER.upper(), "downtown,S1,P1,Zoë,201-555-0123,,yes,2025-05-30T16:30,,", "x,y"]
    path.write_bytes("\r\n".join(lines).encode("utf-8-sig"))
    report = run(sessions, path)
    assert report.rejected == [RowError(3, "expected 10 fields, found 2")]
    assert report.created == 1
    assert all_patients(sessions)["P1"].first_name == "Zoë"


def test_only_required_columns_and_a_text_stream(sessions, clinics) -> None:
    stream = io.StringIO(
        "\ufeffclinic,session_id,patient_id,first_name,phone,consent,completed_at\n"
        "downtown,S1,P1,Ann,201-555-0123,yes,2025-05-30T16:30\n"
    )
    report = import_csv(sessions, stream, now=NOW)
    assert (report.created, report.rejected) == (1, [])
    t = all_sessions(sessions)["S1"]
    assert (t.regions, t.next_appointment_at, t.status) == ("", None, "completed")


def test_status_cancels_a_session_and_is_checked(sessions, clinics, tmp_path) -> None:
    header = HEADER + ",status"
    path = write(
        tmp_path,
        header,
        "downtown,S1,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,,Cancelled",
        "downtown,S2,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,,done",
    )
    report = run(sessions, path)
    assert report.rejected == [RowError(3, "status: expected completed or cancelled, got 'done'")]
    assert all_sessions(sessions)["S1"].status == "cancelled"


def test_session_ids_are_per_clinic_and_the_first_valid_row_wins(
    sessions, clinics, tmp_path
) -> None:
    path = write(
        tmp_path,
        HEADER,
        "downtown,S1,P1,Ann,201-555-0123,,maybe,2025-05-30T16:30,,",  # invalid: does not count
        "downtown,S1,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,neck,",
        "london,S1,P1,Bob,07911 123456,,yes,2025-05-30T16:30,,",
        "downtown,S1,P1,Ann,201-555-0123,,yes,2025-05-30T18:30,back,",
    )
    report = run(sessions, path)
    assert [(e.line, e.reason) for e in report.rejected] == [
        (2, "consent: expected yes or no, got 'maybe'"),
        (5, "session id 'S1' already seen on line 3"),
    ]
    assert count(sessions, TreatmentSession) == 2
    with sessions() as s:
        t = s.scalars(
            select(TreatmentSession).where(TreatmentSession.clinic_id == clinics["downtown"])
        ).one()
    assert t.regions == "neck"


def test_a_patient_repeated_in_one_batch_takes_the_last_row(sessions, clinics, tmp_path) -> None:
    path = write(
        tmp_path,
        HEADER,
        "downtown,S1,P1,Ann,201-555-0123,,no,2025-05-30T16:30,,",
        "downtown,S2,P1,Annie,201-555-0199,,yes,2025-05-31T16:30,,",
    )
    report = run(sessions, path)
    assert report.created == 2
    patients = all_patients(sessions)
    assert list(patients) == ["P1"]
    assert (patients["P1"].first_name, patients["P1"].phone, patients["P1"].consent) == (
        "Annie",
        "+12015550199",
        True,
    )
    assert {t.patient_id for t in all_sessions(sessions).values()} == {patients["P1"].id}


def test_blank_lines_are_ignored_but_counted_for_line_numbers(sessions, clinics, tmp_path) -> None:
    path = write(
        tmp_path,
        HEADER,
        "",
        "downtown,S1,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,",
        ",,,,,,,,,",
        "",
        "downtown,S2,P1,Ann,12,,yes,2025-05-30T16:30,,",
    )
    report = run(sessions, path)
    assert report.rows == 2
    assert report.rejected == [RowError(6, "phone: not a valid number for US")]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b"", None, "the file is empty"),
        (
            b"clinic,session_id,patient_id,first_name,phone,consent,completed_at,notes,dob\n",
            1,
            "unknown columns 'notes', 'dob'",
        ),
        (
            b"clinic,session_id,first_name,consent\n",
            1,
            "missing columns patient_id, phone, completed_at",
        ),
        (
            b"clinic,session_id,patient_id,first_name,phone,consent,completed_at,phone\n",
            1,
            "repeated column phone",
        ),
        (
            b"clinic;session_id;patient_id;first_name;phone;consent;completed_at\n",
            1,
            "fields are separated by ';', expected ','",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", 1, "not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_an_import_file_raises(
    sessions, clinics, tmp_path, content, line, message
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CsvFormatError) as info:
        run(sessions, path)
    assert info.value.line == line
    assert message in info.value.reason
    if line == 1 and "column" in message:
        assert "expected columns clinic, session_id, patient_id" in info.value.reason


def test_invalid_utf8_midway_rejects_that_row_and_goes_on(sessions, clinics, tmp_path) -> None:
    """A Windows-encoded "José" used to end the import at its line, dropping every row after
    it; now that row alone is rejected, with its line and what to do."""
    path = tmp_path / "latin1.csv"
    good = "downtown,S{},P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,\n"
    path.write_bytes(
        (HEADER + "\n" + good.format(1) + good.format(2)).encode()
        + "downtown,S3,P1,José,201-555-0123,,yes,2025-05-30T16:30,,\n".encode("latin-1")
        + good.format(4).encode()
    )
    report = run(sessions, path)
    assert [(e.line, e.reason[:36]) for e in report.rejected] == [
        (4, "not UTF-8 text (byte 19 of the line)")
    ]
    assert "CSV UTF-8" in report.rejected[0].reason
    assert report.created == 3
    assert sorted(all_sessions(sessions)) == ["S1", "S2", "S4"]


def test_a_header_that_is_not_utf8_stops_the_import(sessions, clinics, tmp_path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("clinic,séssion_id\n".encode("latin-1"))
    with pytest.raises(CsvFormatError) as info:
        run(sessions, path)
    assert info.value.line == 1 and info.value.reason.startswith("not UTF-8 text")


def test_an_oversize_field_rejects_its_row_and_the_import_goes_on(
    sessions, clinics, tmp_path
) -> None:
    good = "downtown,S{},P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,"
    big = "downtown,S2,P1," + "A" * 140_000 + ",201-555-0123,,yes,2025-05-30T16:30,,"
    path = write(tmp_path, HEADER, good.format(1), big, good.format(3))
    report = run(sessions, path)
    assert [(e.line, e.reason) for e in report.rejected] == [
        (3, "a field is over 131,072 characters")
    ]
    assert sorted(all_sessions(sessions)) == ["S1", "S3"]


def test_an_unclosed_quote_rejects_the_record_it_swallows_and_names_its_line(
    sessions, clinics, tmp_path
) -> None:
    good = "downtown,S{},P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,"
    path = write(
        tmp_path, HEADER, good.format(1), 'downtown,"S2,P1,Ann', "x" * 140_000, good.format(3)
    )
    report = run(sessions, path)
    assert len(report.rejected) == 1 and report.rejected[0].line == 3
    assert "is a quote opened on line 3 never closed?" in report.rejected[0].reason
    assert sorted(all_sessions(sessions)) == ["S1", "S3"]


def test_a_file_without_its_header_is_refused_without_echoing_the_row(
    sessions, clinics, tmp_path
) -> None:
    path = write(tmp_path, "downtown,S1,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,")
    with pytest.raises(CsvFormatError) as info:
        run(sessions, path)
    assert info.value.line == 1 and "not a header" in info.value.reason
    assert "Ann" not in info.value.reason and "555" not in info.value.reason


def test_a_nul_character_rejects_the_row(sessions, clinics, tmp_path) -> None:
    path = write(tmp_path, HEADER, "downtown,S1,P1,An\x00n,201-555-0123,,yes,2025-05-30T16:30,,")
    report = run(sessions, path)
    assert report.rejected == [RowError(2, "contains a NUL character; is this a text file?")]
    assert count(sessions, TreatmentSession) == 0


def test_progress_reports_bytes_read(sessions, clinics, tmp_path) -> None:
    lines = [HEADER] + [
        f"downtown,S{i},P{i},Ann,201-555-{200 + i:04d},,yes,2025-05-30T16:30,," for i in range(250)
    ]
    path = write(tmp_path, *lines)
    seen: list[int] = []
    report = run(sessions, path, progress=seen.append, batch_size=100)
    assert report.created == 250
    assert len(seen) == 2 + 1  # after each full batch of 100, and at the end
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size


@pytest.mark.slow
def test_a_20000_row_file_imports(sessions, clinics, tmp_path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write(HEADER + "\n")
        for i in range(20_000):
            clinic = "downtown" if i % 2 else "london"
            phone = f"201-555-{i % 10000:04d}" if i % 2 else f"07911 {i % 1000000:06d}"
            f.write(
                f"{clinic},S{i},P{i % 5000},Pat{i},{phone},,{'yes' if i % 3 else 'no'},"
                f"2025-05-{1 + i % 28:02d}T{8 + i % 10:02d}:15,neck;back,\n"
            )
        f.write("downtown,S1,P1,Pat,201-555-0001,,yes,2025-05-01T08:15,,\n")  # a repeat
    report = run(sessions, path)
    assert (report.rows, report.created, report.updated) == (20_001, 20_000, 0)
    assert report.rejected == [RowError(20_002, "session id 'S1' already seen on line 3")]
    assert count(sessions, TreatmentSession) == 20_000
    assert count(sessions, Patient) == 5000
    again = run(sessions, path)
    assert (again.created, again.updated) == (0, 20_000)
    assert count(sessions, TreatmentSession) == 20_000


def test_an_unknown_region_warns_with_its_line_and_the_row_is_imported(sessions, clinics, tmp_path):
    path = write(
        tmp_path,
        HEADER,
        "downtown,S1,P1,Ann,201-555-0123,en,yes,2025-05-30T16:30,Thoracic spine;L traps,",
        "downtown,S2,P2,Bob,201-555-0124,en,yes,2025-05-30T16:30,knuckle;calf,",
        "downtown,S3,P3,Cat,201-555-0125,en,yes,2025-05-30T16:30,,",
        "downtown,S4,P4,Dan,201-555-0126,en,yes,2025-05-30T16:30,t4,",
    )
    report = run(sessions, path)
    assert (report.created, report.rejected) == (4, [])
    assert [(w.line, w.reason.split(" not in")[0]) for w in report.warnings] == [
        (3, "regions: 'knuckle'"),
        (5, "regions: 't4'"),
    ]
    assert "asks about breathing" in report.warnings[0].reason
    assert all_sessions(sessions)["S2"].regions == "knuckle;calf"  # kept as written


def test_a_clinics_own_region_names_are_known_at_import(sessions, clinics, tmp_path):
    from followup.outbound.careplan import DEFAULT_PLAN, plan_to_data
    from followup.store.models import Clinic

    plan = {**plan_to_data(DEFAULT_PLAN), "regions": {"gracilis": "thigh"}}
    with transaction(sessions) as s:
        s.execute(update(Clinic).where(Clinic.slug == "downtown").values(care_plan=plan))
    path = write(
        tmp_path, HEADER, "downtown,S4,P4,Dan,201-555-0126,en,yes,2025-05-30T16:30,Gracilis,"
    )
    report = run(sessions, path)
    assert (report.created, report.warnings) == (1, [])


def test_a_session_reimported_under_another_patient_is_rejected_and_planning_goes_on(
    sessions, clinics, tmp_path
) -> None:
    """It used to move the session to the new patient while its texts stayed with the old
    one, and every tick after that failed on the outbox's unique key, for every clinic."""
    from followup.outbound.planner import plan_pending
    from followup.store.models import OutboundMessage

    first = write(tmp_path, HEADER, "downtown,S1,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,")
    assert run(sessions, first).created == 1
    plan_pending(sessions, NOW)
    again = write(
        tmp_path,
        HEADER,
        "downtown,S1,P2,Bea,201-555-0177,,yes,2025-05-30T16:30,,",
        "downtown,S2,P2,Bea,201-555-0177,,yes,2025-05-30T17:30,,",
        name="again.csv",
    )
    report = run(sessions, again)
    assert [(e.line, e.reason[:38]) for e in report.rejected] == [
        (2, "session 'S1' belongs to patient 'P1'; ")
    ]
    assert "new session_id" in report.rejected[0].reason
    assert report.created == 1  # S2
    with sessions() as db:
        owners = {
            t.external_id: db.get(Patient, t.patient_id).external_id
            for t in db.scalars(select(TreatmentSession))
        }
        assert owners == {"S1": "P1", "S2": "P2"}
    planned = plan_pending(sessions, NOW)  # no unique-key failure: S2 gets its texts
    assert planned.sessions == 1
    with sessions() as db:
        texts = db.scalars(select(OutboundMessage)).all()
        assert {db.get(Patient, m.patient_id).external_id for m in texts} == {"P1", "P2"}


@pytest.mark.parametrize("when", ["1900-01-01T10:00", "0001-01-01T00:00", "1999-12-31T23:59"])
def test_a_date_before_2000_is_rejected_with_its_line(sessions, clinics, tmp_path, when) -> None:
    path = write(tmp_path, HEADER, f"downtown,S1,P1,Ann,201-555-0123,,yes,{when},,")
    report = run(sessions, path)
    assert [(e.line, "before 2000" in e.reason) for e in report.rejected] == [(2, True)]
    assert all_sessions(sessions) == {}


# --- what a patient's phone and name may be ---------------------------------------------------


def test_a_phone_no_text_can_reach_rejects_its_row_without_echoing_it(
    sessions, clinics, tmp_path
) -> None:
    row = "{clinic},S{sid},P{sid},Ann,{phone},,yes,2025-05-30T16:30,,"
    phones = [
        ("downtown", "201-555-0123"),  # 2: fine
        ("downtown", "+1 900 555 0142"),  # 3
        ("downtown", "1-800-555-0142"),  # 4
        ("downtown", "(888) 555-0142"),  # 5
        ("london", "0909 123 4567"),  # 6
        ("london", "0800 123 4567"),  # 7
        ("london", "020 7946 0142"),  # 8: a landline
        ("downtown", "22395"),  # 9: a short code
        ("london", "07911 123456"),  # 10: fine
    ]
    lines = [row.format(clinic=c, sid=i, phone=p) for i, (c, p) in enumerate(phones)]
    report = run(sessions, write(tmp_path, HEADER, *lines))
    assert [(e.line, e.reason) for e in report.rejected] == [
        (3, "phone: a premium-rate number; cannot be texted"),
        (4, "phone: a toll-free number; cannot be texted"),
        (5, "phone: a toll-free number; cannot be texted"),
        (6, "phone: a premium-rate number; cannot be texted"),
        (7, "phone: a toll-free number; cannot be texted"),
        (8, "phone: a landline; cannot receive texts"),
        (9, "phone: a short code or service number, not a patient's phone"),
    ]
    assert sorted(all_sessions(sessions)) == ["S0", "S8"]
    for error in report.rejected:
        assert "0142" not in error.reason and "4567" not in error.reason


def test_the_services_own_numbers_are_never_a_patients_phone(sessions, clinics, tmp_path):
    """The clinic's phone (its texts would go to the front desk), the clinic's sender, any
    other clinic's sender and the install's (a text to a sender comes back as a reply)."""
    from followup.store.models import Clinic

    with transaction(sessions) as s:
        s.execute(
            update(Clinic).where(Clinic.slug == "downtown").values(from_number="+12015550111")
        )
        s.execute(update(Clinic).where(Clinic.slug == "london").values(from_number="+447911000222"))
    row = "downtown,S{},P{},Ann,{},,yes,2025-05-30T16:30,,"
    path = write(
        tmp_path,
        HEADER,
        row.format(1, 1, "(201) 555-0100"),  # the clinic's phone, written another way
        row.format(2, 2, "+12015550111"),  # the clinic's sender
        row.format(3, 3, "+44 7911 000222"),  # the other clinic's sender
        row.format(4, 4, "201-555-0177"),  # TWILIO_FROM_NUMBER
        row.format(5, 5, "201-555-0123"),
    )
    report = run(sessions, path, senders=["+12015550177", None])
    assert [(e.line, e.reason) for e in report.rejected] == [
        (2, "phone: the clinic's phone, not a patient's"),
        (3, "phone: the clinic's sender number, not a patient's"),
        (4, "phone: one of this service's sender numbers, not a patient's"),
        (5, "phone: one of this service's sender numbers, not a patient's"),
    ]
    assert sorted(all_sessions(sessions)) == ["S5"]


@pytest.mark.parametrize(
    "name", ["María José", "Jean-Luc", "O'Brien", "Nguyễn", "Anne Marie", "Maria del Carmen"]
)
def test_a_real_first_name_is_imported_as_written(sessions, clinics, tmp_path, name) -> None:
    path = write(tmp_path, HEADER, f"downtown,S1,P1,{name},201-555-0123,,yes,2025-05-30T16:30,,")
    report = run(sessions, path)
    assert (report.created, report.rejected, report.warnings) == (1, [], [])
    assert all_patients(sessions)["P1"].first_name == name


def test_a_message_in_the_name_is_cut_to_the_first_name_or_dropped_with_a_warning(
    sessions, clinics, tmp_path
) -> None:
    """The row is imported all the same: the patient gets the aftercare advice, greeted by
    the first name or by none. The warning names the line and the reason, not the name."""
    row = 'downtown,S{0},P{0},"{1}",201-555-01{0:02d},,yes,2025-05-30T16:30,,'
    names = [
        "Ana. Your account is locked, call +1 900 555 0100",  # 2
        "Bea https://pay.example",  # 3
        "cat@mail.example",  # 4
        "Dora Lee Ann Mae Sue",  # 5
        "Eva",  # 6
        "X" * 70 + " Fay.",  # 7: cut to a first word still too long for a name: rejected
    ]
    lines = [row.format(i + 2, n) for i, n in enumerate(names)]
    report = run(sessions, write(tmp_path, HEADER, *lines))
    assert (report.created, report.rejected) == (
        5,
        [RowError(7, "first_name: longer than 64 characters")],
    )
    kept = "; only its first word is kept"
    dropped = "; imported without a name, so its texts greet no one by name"
    assert [(w.line, w.reason) for w in report.warnings] == [
        (2, "first_name: more than a name (digits)" + kept),
        (3, "first_name: more than a name (a web address)" + kept),
        (4, "first_name: more than a name (an e-mail address)" + dropped),
        (5, "first_name: more than a name (more than 4 words)" + kept),
    ]
    stored = {k: p.first_name for k, p in all_patients(sessions).items()}
    assert stored == {"P2": "Ana", "P3": "Bea", "P4": "", "P5": "Dora", "P6": "Eva"}
    for warning in report.warnings:
        assert not {"Ana", "Bea", "cat", "Dora", "900"} & set(warning.reason.split())


def test_a_patient_given_two_phones_is_warned_about_and_the_later_row_wins(
    sessions, clinics, tmp_path
) -> None:
    row = "downtown,S{},P{},Ann,{},,yes,2025-05-30T16:30,,"
    path = write(
        tmp_path,
        HEADER,
        row.format(1, 1, "201-555-0123"),  # 2
        row.format(2, 1, "(201) 555-0123"),  # 3: the same phone: a second session
        row.format(3, 2, "201-555-0124"),  # 4
        row.format(4, 1, "201-555-0199"),  # 5: P1's phone changes
        row.format(5, 1, "201-555-0199"),  # 6: and stays
        "london,S6,P1,Bob,07911 123456,,yes,2025-05-30T16:30,,",  # 7: another clinic's P1
    )
    for batch_size in (1000, 1):  # one batch, and a batch per row
        report = run(sessions, path, batch_size=batch_size)
        assert report.rejected == []
        assert [(w.line, w.reason) for w in report.warnings] == [
            (5, "patient_id 'P1' has another phone on line 3; the phone of this line (the "
                "later row) is kept"),
        ]  # fmt: skip
        with sessions() as s:
            phone = s.scalar(
                select(Patient.phone).where(
                    Patient.external_id == "P1", Patient.clinic_id == clinics["downtown"]
                )
            )
        assert phone == "+12015550199"


def test_a_lone_carriage_return_rejects_its_row_and_the_import_goes_on(
    sessions, clinics, tmp_path
) -> None:
    good = "downtown,S{},P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,\n"
    path = tmp_path / "cr.csv"
    path.write_bytes(
        (HEADER + "\n" + good.format(1) + "downtown,S2,P1,An\rn,201-555-0123,,yes\n"
         + good.format(3)).encode()
    )  # fmt: skip
    report = run(sessions, path)
    assert [(e.line, e.reason) for e in report.rejected] == [
        (3, "a carriage return inside an unquoted field; quote the field or remove it")
    ]
    assert sorted(all_sessions(sessions)) == ["S1", "S3"]


def test_a_utf16_file_is_refused_with_what_to_do(sessions, clinics, tmp_path) -> None:
    path = write(tmp_path, HEADER, "downtown,S1,P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,",
                 encoding="utf-16")  # fmt: skip
    with pytest.raises(CsvFormatError) as info:
        run(sessions, path)
    assert (info.value.line, info.value.reason) == (
        1,
        'the file is UTF-16 text; save it as "CSV UTF-8"',
    )
