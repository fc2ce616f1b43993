"""``followup health`` on SQLite and PostgreSQL: the checks of /readyz, one line each, exit 1
when one fails."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from followup.cli import main


def test_health_is_ok_on_a_migrated_database_with_an_empty_spool(env):
    result = CliRunner().invoke(main, ["health"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == ["database", "migrations", "spool"]
    assert all(": ok (" in line for line in lines)


def test_health_exits_1_naming_the_spool_while_a_reply_waits(env):
    spool = Path(env["FOLLOWUP_SPOOL_DIR"])
    spool.mkdir(parents=True)
    (spool / f"SM{'1' * 32}.json").write_text("{}")
    result = CliRunner().invoke(main, ["health"])
    assert result.exit_code == 1
    assert "spool: FAILED (1 replies waiting to be filed)" in result.output
    assert "database: ok" in result.output
