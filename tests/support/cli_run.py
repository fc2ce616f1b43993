"""Driving the ``followup`` command in-process, as the end-to-end tests do."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from followup.cli import main

NY = ZoneInfo("America/New_York")
HEADER = (
    "clinic,session_id,patient_id,first_name,phone,locale,consent,completed_at,regions,"
    "next_appointment_at\n"
)


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result


def outbox(*extra: str) -> list[dict]:
    result = run("outbox", "--json", *extra)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def ny(iso: str) -> str:
    return (
        datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(NY).strftime("%Y-%m-%d %H:%M")
    )


def write_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "sessions.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path
