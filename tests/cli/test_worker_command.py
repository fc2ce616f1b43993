"""``followup worker``: the worker alone, as a real process, beside ``followup web``."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from click.testing import CliRunner
from support.processes import FOLLOWUP, clean_env

from followup.cli import main


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
