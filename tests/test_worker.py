"""`followup run` as a real process: ticks, sends the demo texts, stops cleanly on a signal."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import httpx2 as httpx
import pytest
from support.processes import FOLLOWUP, clean_env
from support.webhooks import TOKEN, inbound_params, sign


def _env(db_url: str) -> dict[str, str]:
    env = clean_env()
    env.update(FOLLOWUP_DATABASE_URL=db_url, FOLLOWUP_TICK_SECONDS="0.5")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _signed_reply(base: str, body: str, sender: str) -> httpx.Response:
    params = inbound_params(body, sender, to="+15555550100")
    signature = sign("/twilio/inbound", params, base=base)
    return httpx.post(
        base + "/twilio/inbound",
        content=urlencode(params),
        timeout=10,
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


def _wait_up(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(base + "/healthz", timeout=1).text == "ok\n":
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("web app did not come up")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_sends_the_demo_texts_serves_webhooks_and_stops_cleanly_on_a_signal(sqlite_url, sig):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**_env(sqlite_url), "TWILIO_AUTH_TOKEN": TOKEN, "FOLLOWUP_PUBLIC_URL": base}
    subprocess.run([*FOLLOWUP, "demo"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [*FOLLOWUP, "run", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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
        _wait_up(base, proc)
        reply = _signed_reply(base, "STOP", "+12015550123")  # Ana, a demo patient
        assert reply.status_code == 200
        assert ET.fromstring(reply.text).tag == "Response"
        unsigned = httpx.post(
            base + "/twilio/inbound", data={"From": "+15555550000", "Body": "STOP"}
        )
        assert unsigned.status_code == 403
        replies = subprocess.run(
            [*FOLLOWUP, "replies", "--json"], env=env, capture_output=True, text=True, check=True
        ).stdout.splitlines()
        kinds = [json.loads(r)["kind"] for r in replies]  # newest first
        # the STOP, then the demo's own sample replies (a score and an emergency)
        assert kinds[0] == "opt_out" and sorted(kinds[1:]) == ["emergency", "score"]
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    # the three aftercare texts, and at most the on-call page of the demo's sample emergency
    # (it goes out when the alert sender gets to it, before or after the signal)
    patients = stdout.count("SMS to") - stdout.count("SMS to +1201***0150")
    assert patients == 3 and stdout.count("SMS to +1201***0150") <= 1
    assert "worker stopped" in stderr
