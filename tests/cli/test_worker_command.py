"""``followup worker`` (the worker alone, as a real process) and ``followup db check`` (the
health check of a worker container): what they do, their exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from click.testing import CliRunner
from support.processes import FOLLOWUP, clean_env

from followup.cli import main


def _check(monkeypatch, url: str):
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", url)
    return CliRunner().invoke(main, ["db", "check"], catch_exceptions=False)


def test_db_check_passes_on_a_migrated_database(env, monkeypatch):
    done = _check(monkeypatch, env["FOLLOWUP_DATABASE_URL"])
    assert done.exit_code == 0 and done.output.startswith("database at ")


def test_db_check_fails_on_a_database_the_migrations_have_not_reached(tmp_path, monkeypatch):
    done = _check(monkeypatch, f"sqlite:///{tmp_path / 'new.db'}")
    assert done.exit_code == 1 and "schema is at nothing, code needs" in done.output


def test_db_check_fails_when_the_database_does_not_answer_and_names_no_url(monkeypatch):
    # port 1 on loopback: nothing listens there, the connection is refused at once
    done = _check(monkeypatch, "postgresql://followup:s3cret@127.0.0.1:1/followup")
    assert done.exit_code == 1 and "database unreachable (OperationalError)" in done.output
    assert "s3cret" not in done.output and "127.0.0.1" not in done.output


def test_the_worker_takes_no_web_options():
    done = CliRunner().invoke(main, ["worker", "--port", "8000"])
    assert done.exit_code == 2


@pytest.mark.slow
def test_the_worker_sends_the_demo_texts_and_stops_cleanly_on_sigterm(sqlite_url, tmp_path):
    env = {**clean_env(), "FOLLOWUP_DATABASE_URL": sqlite_url, "FOLLOWUP_TICK_SECONDS": "0.5",
           "FOLLOWUP_SPOOL_DIR": str(tmp_path / "spool")}  # fmt: skip
    subprocess.run([*FOLLOWUP, "demo"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [*FOLLOWUP, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline, sent = time.monotonic() + 30, []
        while len(sent) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            out = subprocess.run([*FOLLOWUP, "outbox", "--json", "--status", "sent"], env=env,
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
            sent = [json.loads(line) for line in out.splitlines()]
            time.sleep(0.3)
        assert len(sent) == 3
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "worker stopped" in stderr and stdout.count("SMS to") >= 3
