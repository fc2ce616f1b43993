"""`followup run` as a real process: ticks, sends the demo texts, stops cleanly on a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

FOLLOWUP = [sys.executable, "-m", "followup.cli"]


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUP_", "TWILIO_"))}
    env.update(FOLLOWUP_DATABASE_URL=db_url, FOLLOWUP_TICK_SECONDS="0.5")
    return env


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_sends_the_demo_texts_and_stops_cleanly_on_a_signal(sqlite_url, sig):
    env = _env(sqlite_url)
    subprocess.run([*FOLLOWUP, "demo"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [*FOLLOWUP, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        sent = []
        while time.monotonic() < deadline:
            out = subprocess.run(
                [*FOLLOWUP, "outbox", "--json", "--status", "sent"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            sent = [json.loads(line) for line in out.splitlines()]
            if len(sent) == 3:
                break
            time.sleep(0.3)
        assert len(sent) == 3
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert stdout.count("SMS to") == 3
    assert "worker stopped" in stderr
