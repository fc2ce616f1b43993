"""``followup templates check`` and ``followup segments``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from followup.cli.messages import segments, templates

SHIPPED = Path(__file__).resolve().parents[2] / "messages"


@pytest.fixture
def cli() -> click.Group:
    group = click.Group()
    group.add_command(templates)
    group.add_command(segments)
    return group


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of the shipped texts with four kinds of damage."""
    root = tmp_path / "messages"
    shutil.copytree(SHIPPED, root)
    (root / "en" / "checkin_24h.txt").write_text("{{ clinic_name }}: {{ body_region }} 0-10?\n")
    (root / "en" / "reminder.txt").write_text(
        "Hi {{ first_name }}, {{ clinic_name }}: see you {{ appointment_time }} – call us.\n"
    )
    (root / "en" / "checkin_72h.txt").write_text("{{ clinic_name }}: " + "Reply 0-10. " * 14)
    (root / "es" / "checkin_72h.txt").unlink()
    return root


def test_it_passes_the_shipped_messages(cli, runner):
    result = runner.invoke(cli, ["templates", "check", "--dir", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert result.output == "templates ok: 28 templates in 2 locales\n"


def test_it_uses_the_configured_messages_dir_by_default(cli, runner, monkeypatch, tmp_path):
    monkeypatch.delenv("FOLLOWUP_MESSAGES_DIR", raising=False)
    result = runner.invoke(cli, ["templates", "check"])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("FOLLOWUP_MESSAGES_DIR", str(tmp_path / "missing"))
    result = runner.invoke(cli, ["templates", "check"])
    assert result.exit_code == 1
    assert "FOLLOWUP_MESSAGES_DIR" in result.output


def test_it_reports_each_broken_template_and_exits_1(cli, runner, broken):
    result = runner.invoke(cli, ["templates", "check", "--dir", str(broken)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    en, es = broken / "en", broken / "es"
    assert f"{en}/checkin_24h.txt: unknown placeholder(s) body_region; allowed: " in lines[0]
    assert (
        f"{en}/checkin_72h.txt: 2 GSM-7 segments (199 characters) with long sample values; "
        "the limit is 1 segment of 160 GSM-7 characters"
    ) in lines
    assert f"{en}/reminder.txt: not GSM-7 because of '–' (U+2013) at line 1, column 72" in lines
    # ...and what it costs: the en dash makes the whole text UCS-2, 70 characters a segment.
    assert f"{en}/reminder.txt: 2 UCS-2 segments (98 characters)" in result.output
    assert f"{es}/checkin_72h.txt: missing: en has it (patients would get English)" in lines
    assert lines[-1] == "templates not ok: 5 problems in 4 file(s)"
    assert len(lines) == 6


def test_it_reports_a_missing_directory(cli, runner, tmp_path):
    result = runner.invoke(cli, ["templates", "check", "--dir", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert f"{tmp_path / 'nope'}: not a directory" in result.output


def test_it_reports_an_invalid_locale_json(cli, runner, tmp_path):
    root = tmp_path / "messages"
    shutil.copytree(SHIPPED, root)
    (root / "es" / "locale.json").write_text('{"appointment_format": "%A %d", "day_names": 3}')
    result = runner.invoke(cli, ["templates", "check", "--dir", str(root)])
    assert result.exit_code == 1
    assert f"{root}/es/locale.json: day_names: expected a list of 7 strings" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", {"encoding": "GSM-7", "segments": 1, "characters": 5}),
        ("a" * 161, {"encoding": "GSM-7", "segments": 2, "characters": 161}),
        ("[€]", {"encoding": "GSM-7", "segments": 1, "characters": 6}),
        ("¿Qué tal? día", {"encoding": "UCS-2", "segments": 1, "characters": 13}),
        ("ok 😀", {"encoding": "UCS-2", "segments": 1, "characters": 5}),
    ],
)
def test_it_prints_segments_for_text(cli, runner, text, expected):
    result = runner.invoke(cli, ["segments", text])
    assert result.exit_code == 0
    assert result.output == json.dumps(expected) + "\n"
    assert list(json.loads(result.output)) == ["encoding", "segments", "characters"]


def test_it_reads_json_strings_from_stdin(cli, runner):
    stdin = '"hello"\n\n"caf\\u00e9 \\u00e1"\n   \n"' + "x" * 200 + '"\n'
    result = runner.invoke(cli, ["segments"], input=stdin)
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.output.splitlines()] == [
        {"encoding": "GSM-7", "segments": 1, "characters": 5},
        {"encoding": "UCS-2", "segments": 1, "characters": 6},
        {"encoding": "GSM-7", "segments": 2, "characters": 200},
    ]


def test_it_reports_bad_stdin_lines_and_continues(cli, runner):
    result = runner.invoke(cli, ["segments"], input='"ok"\nhello\n42\n"fine"\n')
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        '{"encoding": "GSM-7", "segments": 1, "characters": 2}',
        '{"encoding": "GSM-7", "segments": 1, "characters": 4}',
    ]
    errors = result.stderr.splitlines()
    assert errors[0].startswith("line 2: not JSON")
    assert errors[1] == "line 3: expected a JSON string, got int"
    assert len(errors) == 2


def test_it_counts_an_empty_text_argument(cli, runner):
    result = runner.invoke(cli, ["segments", ""])
    assert result.output == '{"encoding": "GSM-7", "segments": 1, "characters": 0}\n'
