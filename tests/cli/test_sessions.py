"""The clinics add/list and import-sessions commands: output streams and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from followup.cli import sessions as cli_sessions
from followup.cli.sessions import clinics_add, clinics_list, import_sessions
from followup.store.models import Clinic, TreatmentSession

HEADER = (
    "clinic,session_id,patient_id,first_name,phone,locale,consent,completed_at,regions,"
    "next_appointment_at"
)
ROW = "downtown,{sid},P1,Ann,201-555-0123,,yes,2025-05-30T16:30,,"


@pytest.fixture
def cli(env):
    group = click.Group()
    clinics = click.Group("clinics")
    clinics.add_command(clinics_add)
    clinics.add_command(clinics_list)
    group.add_command(clinics)
    group.add_command(import_sessions)
    runner = CliRunner()
    return lambda *args: runner.invoke(group, list(args), catch_exceptions=False)


@pytest.fixture
def downtown(cli) -> None:
    result = cli(
        "clinics",
        "add",
        "--slug",
        "downtown",
        "--name",
        "Downtown Physio",
        "--timezone",
        "America/New_York",
        "--phone",
        "(201) 555-0100",
    )
    assert result.exit_code == 0, result.output


def test_clinics_add_prints_the_clinic(cli, sessions) -> None:
    result = cli(
        "clinics",
        "add",
        "--slug",
        "lakeside",
        "--name",
        "Lakeside Physio",
        "--timezone",
        "America/Chicago",
        "--phone",
        "212-555-0199",
        "--send-window",
        "09:00-19:30",
        "--from-number",
        "+15005550006",
        "--oncall-phone",
        "212-555-0190",
    )
    assert result.exit_code == 0
    assert result.stdout == (
        "added clinic lakeside (Lakeside Physio): America/Chicago, +12125550199, "
        "texts 09:00-19:30, emergency 911\n"
    )
    assert result.stderr == ""
    with sessions() as s:
        clinic = s.scalars(select(Clinic)).one()
    assert (clinic.send_window_start, clinic.send_window_end) == (540, 1170)
    assert clinic.from_number == "+15005550006"


def test_clinics_add_prints_warnings_on_stderr(cli) -> None:
    result = cli(
        "clinics",
        "add",
        "--slug",
        "martin",
        "--name",
        "Fisioterapia Martín",
        "--timezone",
        "Europe/Madrid",
        "--phone",
        "912 345 678",
        "--country",
        "ES",
        "--locale",
        "es",
    )
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "added clinic martin (Fisioterapia Martín): Europe/Madrid, +34912345678"
    )
    assert "emergency 112" in result.stdout
    assert result.stderr.startswith("warning: name: 'í' (U+00ED) not in the GSM-7 alphabet")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timezone", "EST5"], "clinics add: timezone: 'EST5' is not an IANA time zone"),
        (["--phone", "555-555-0100"], "clinics add: phone: not a valid number for US"),
        (["--send-window", "20:00-08:00"], "clinics add: send_window: start 20:00 must be before"),
    ],
)
def test_clinics_add_exits_1_on_bad_input(cli, sessions, args, message) -> None:
    base = {
        "--slug": "x1",
        "--name": "X",
        "--timezone": "America/New_York",
        "--phone": "201-555-0100",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli("clinics", "add", *[v for kv in base.items() for v in kv])
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert result.stdout == ""
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Clinic)) == 0


def test_clinics_add_refuses_a_duplicate_slug(cli, downtown) -> None:
    result = cli(
        "clinics",
        "add",
        "--slug",
        "downtown",
        "--name",
        "Other",
        "--timezone",
        "America/New_York",
        "--phone",
        "201-555-0101",
    )
    assert result.exit_code == 1
    assert result.stderr == "clinics add: slug: a clinic 'downtown' already exists\n"


def test_send_window_without_a_dash_is_a_usage_error(cli) -> None:
    result = cli(
        "clinics",
        "add",
        "--slug",
        "x1",
        "--name",
        "X",
        "--timezone",
        "UTC",
        "--phone",
        "201-555-0100",
        "--send-window",
        "08:00",
    )
    assert result.exit_code == 2
    assert "expected HH:MM-HH:MM" in result.stderr


def test_clinics_list(cli, downtown) -> None:
    cli(
        "clinics",
        "add",
        "--slug",
        "ab",
        "--name",
        "A B",
        "--timezone",
        "Europe/London",
        "--phone",
        "020 7946 0018",
        "--country",
        "GB",
    )
    result = cli("clinics", "list")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "ab        A B              Europe/London     +442079460018  Mon-Fri 09:00-17:00"
        "  alerts: NONE (texts wait)",
        "downtown  Downtown Physio  America/New_York  +12015550100   Mon-Fri 09:00-17:00"
        "  alerts: NONE (texts wait)",
    ]
    result = cli("clinics", "list", "--json")
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["slug"] for o in objects] == ["ab", "downtown"]
    assert objects[1] == {
        "slug": "downtown",
        "name": "Downtown Physio",
        "timezone": "America/New_York",
        "phone": "+12015550100",
        "country": "US",
        "locale": "en",
        "emergency_number": "911",
        "from_number": None,
        "messaging_service_sid": None,
        "send_window": "08:00-20:00",
        "opening_hours": "Mon-Fri 09:00-17:00",
        "oncall_phone": None,
        "alert_urls": [],
        "alerts_configured": False,
        "review_alert_after": "2h",
        "emergency_second_after": "15m",
        "clinic_today_second_after": "1h",
        "second_contact": None,
    }


def test_clinics_list_with_no_clinics_prints_nothing(cli) -> None:
    result = cli("clinics", "list")
    assert (result.exit_code, result.stdout) == (0, "")


def test_import_sessions_all_good(cli, downtown, sessions, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("\n".join([HEADER, ROW.format(sid="S1"), ROW.format(sid="S2")]) + "\n")
    result = cli("import-sessions", str(path))
    assert result.exit_code == 0
    assert result.stdout == "imported 2 sessions (2 new, 0 updated), rejected 0 of 2 rows\n"
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    result = cli("import-sessions", str(path))
    assert result.stdout == "imported 2 sessions (0 new, 2 updated), rejected 0 of 2 rows\n"


def test_import_sessions_reports_rejected_rows_and_exits_1(
    cli, downtown, sessions, tmp_path: Path
) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                ROW.format(sid="S1"),
                ROW.format(sid="S1"),
                "downtown,S3,P1,Ann,12,,yes,2025-05-30T16:30,,",
                ROW.format(sid="S4"),
            ]
        )
        + "\n"
    )
    result = cli("import-sessions", str(path))
    assert result.exit_code == 1
    assert result.stdout == "imported 2 sessions (2 new, 0 updated), rejected 2 of 4 rows\n"
    assert result.stderr.splitlines() == [
        f"{path}:3: session id 'S1' already seen on line 2",
        f"{path}:4: phone: not a valid number for US",
    ]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(TreatmentSession)) == 2


def test_import_sessions_refuses_the_installs_own_sender_as_a_patients_phone(
    cli, downtown, sessions, tmp_path: Path, monkeypatch
) -> None:
    """TWILIO_FROM_NUMBER sends every clinic's texts that has no sender of its own: a
    patient row with that number would text the service itself, and its answers loop."""
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+12015550188")
    path = tmp_path / "s.csv"
    rows = [HEADER, ROW.format(sid="S1"), ROW.format(sid="S2").replace("0123", "0188")]
    path.write_text("\n".join(rows) + "\n")
    result = cli("import-sessions", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:3: phone: one of this service's sender numbers, not a patient's"
    ]
    assert "0188" not in result.output
    assert result.stdout == "imported 1 sessions (1 new, 0 updated), rejected 1 of 2 rows\n"


def test_import_sessions_bad_header_exits_1(cli, downtown, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("clinic,session,patient_id\n")
    result = cli("import-sessions", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:1: unknown column 'session'; missing columns ")
    assert result.stdout == ""


def test_import_sessions_missing_file_exits_1(cli, tmp_path: Path) -> None:
    result = cli("import-sessions", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1
    assert result.stderr == f"{tmp_path / 'nope.csv'}: cannot read: No such file or directory\n"


def test_import_sessions_shows_progress_on_a_terminal(
    cli, downtown, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "s.csv"
    path.write_text("\n".join([HEADER, ROW.format(sid="S1")]) + "\n")
    monkeypatch.setattr(cli_sessions, "_stderr_is_terminal", lambda: True)
    result = cli("import-sessions", str(path))
    assert result.exit_code == 0
    assert "importing" in result.stderr
    assert result.stdout == "imported 1 sessions (1 new, 0 updated), rejected 0 of 1 rows\n"


def test_clinics_add_warns_when_its_name_makes_a_text_too_long(env):
    group = click.Group()
    group.add_command(clinics_add)
    result = CliRunner().invoke(
        group,
        ["add", "--slug", "long", "--name", "The Very Long Name Physiotherapy & Sports Clinic",
         "--timezone", "America/New_York", "--phone", "+12015550100"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: template en/aftercare: 2 GSM-7 segment(s)" in result.output
    # a short name: no template warning
    result = CliRunner().invoke(
        group,
        ["add", "--slug", "short", "--name", "Harbor Physio", "--timezone", "America/New_York",
         "--phone", "+12015550100"],
    )  # fmt: skip
    assert result.exit_code == 0
    assert "template" not in result.output
