"""Real worker processes against the stateful fake Twilio: every due text is created at the
provider exactly once, through SIGKILL mid-run, a 429 storm, 5xx for a while, and errors
that belong to one number (21211, 21610)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from support.fake_twilio import FakeTwilio
from support.processes import FOLLOWUP, clean_env
from support.seeding import seed_treated

from followup.intake.demo import daytime_zone
from followup.store.engine import make_engine, make_sessionmaker
from followup.store.models import OutboundMessage, Patient

CLINIC_FROM = "+12015550111"

pytestmark = pytest.mark.slow


def phone(i: int) -> str:
    return f"+1201555{i:04d}"


def seed(db_url: str, n: int, now: datetime) -> None:
    """A clinic where it is daytime now, and n patients whose aftercare text is due now."""
    engine = make_engine(db_url)
    seed_treated(
        make_sessionmaker(engine),
        [phone(i) for i in range(n)],
        now - timedelta(minutes=40),
        plan_at=now,
        timezone=daytime_zone(now),
        from_number=CLINIC_FROM,
    )
    engine.dispose()


def worker_env(db_url: str, fake: FakeTwilio, **extra: str) -> dict[str, str]:
    env = clean_env()
    env.update(
        FOLLOWUP_DATABASE_URL=db_url,
        FOLLOWUP_SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=fake.account_sid,
        TWILIO_AUTH_TOKEN=fake.auth_token,
        FOLLOWUP_TWILIO_API_URL=fake.url,
        FOLLOWUP_TWILIO_TIMEOUT="1",
        FOLLOWUP_LEASE_SECONDS="2",
        FOLLOWUP_TICK_SECONDS="0.2",
        FOLLOWUP_SEND_CONCURRENCY="4",
        FOLLOWUP_RETRY_BASE_SECONDS="0.2",
        FOLLOWUP_MAX_ATTEMPTS="30",
    )
    env.update(extra)
    return env


def rows(db_url: str) -> list[tuple[str, str, str | None, str | None]]:
    """(phone, status, provider_sid, error_code) of every aftercare text."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [
                tuple(r)
                for r in conn.execute(
                    select(
                        Patient.phone,
                        OutboundMessage.status,
                        OutboundMessage.provider_sid,
                        OutboundMessage.error_code,
                    )
                    .join(Patient, Patient.id == OutboundMessage.patient_id)
                    .where(OutboundMessage.step == "aftercare")
                    .order_by(Patient.phone)
                )
            ]
    finally:
        engine.dispose()


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Worker:
    """``followup run`` in its own process, its output in files (a pipe nobody reads
    would fill up and block the worker)."""

    def __init__(self, env: dict[str, str], tmp_path: Path, name: str) -> None:
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [*FOLLOWUP, "run", "--no-web"], env=env, stdout=out, stderr=err
            )

    def has_sent(self) -> bool:
        return " sent (SM" in self.err.read_text()

    def stop(self, sig: signal.Signals) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20), self.err.read_text()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.mark.parametrize("fault", ["none", "429 storm", "503 for a while"])
def test_sigkill_mid_run_loses_nothing_and_sends_nothing_twice(db_url, fault, tmp_path):
    n = 60
    seed(db_url, n, datetime.now(UTC))
    with FakeTwilio(latency=0.1) as fake:
        env = worker_env(db_url, fake)
        first = Worker(env, tmp_path, "first")
        try:
            # the fault starts once sending is under way, and lasts a second
            wait_for(lambda: fake.count() >= 5, 30, "the first texts")
            if fault == "429 storm":
                fake.fail_for(1.0, status=429, code=20429)
            elif fault == "503 for a while":
                fake.fail_for(1.0, status=503, code=None)
            wait_for(lambda: fake.count() >= n // 3, 30, "a third of the texts")
        finally:
            first.stop(signal.SIGKILL)
        after_kill = rows(db_url)
        created_then = {m["to"] for m in fake.created}
        in_flight = [
            p for p, status, _, _ in after_kill if status == "sending" and p in created_then
        ]
        assert any(status == "sending" for _, status, _, _ in after_kill)
        assert in_flight, "the kill should leave texts created at Twilio but not recorded"

        second = Worker(env, tmp_path, "second")
        try:
            wait_for(
                lambda: all(status == "sent" for _, status, _, _ in rows(db_url)), 60, "all sent"
            )
        finally:
            code, stderr = second.stop(signal.SIGTERM)
        assert code == 0, stderr
        assert "found at the provider" in stderr  # the in-flight texts were looked up

        created = fake.created
    # exactly once at the provider, for every patient
    assert sorted(m["to"] for m in created) == [phone(i) for i in range(n)]
    sid_by_phone = {m["to"]: m["sid"] for m in created}
    final = rows(db_url)
    assert all(status == "sent" for _, status, _, _ in final)
    # and the outbox holds the SID Twilio gave each one, including the recovered ones
    assert {p: sid for p, _, sid, _ in final} == sid_by_phone
    if fault != "none":
        assert fake.create_attempts > n  # the fault did hit


def test_send_due_once_sends_each_due_text_once_and_classifies_each_error(db_url):
    n = 8
    now = datetime.now(UTC)
    seed(db_url, n, now)
    with FakeTwilio() as fake:
        fake.invalid_numbers.add(phone(1))
        fake.opted_out_numbers.add(phone(2))
        env = worker_env(db_url, fake)
        first = subprocess.run(
            [*FOLLOWUP, "send-due", "--once"], env=env, capture_output=True, text=True
        )
        second = subprocess.run(
            [*FOLLOWUP, "send-due", "--once"], env=env, capture_output=True, text=True
        )
        created = fake.created
        outbox = subprocess.run(
            [*FOLLOWUP, "outbox", "--status", "failed"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        outbox_json = subprocess.run(
            [*FOLLOWUP, "outbox", "--json"], env=env, capture_output=True, text=True, check=True
        ).stdout
    assert first.returncode == 1, first.stderr  # some texts failed: the exit code says so
    assert "sent 6" in first.stdout and "failed 2" in first.stdout
    assert "sent 0" in second.stdout  # nothing sent twice
    assert sorted(m["to"] for m in created) == sorted(phone(i) for i in range(n) if i not in (1, 2))
    status = {p: (s, code) for p, s, _, code in rows(db_url)}
    assert status[phone(1)] == ("failed", "21211")
    assert status[phone(2)] == ("failed", "21610")
    assert "21211" in outbox and "21610" in outbox
    # the opted-out patient's later texts are skipped, and the patient is marked
    later = [
        json.loads(line)
        for line in outbox_json.splitlines()
        if json.loads(line)["patient_id"] == "P2" and json.loads(line)["step"] != "aftercare"
    ]
    assert later and all(r["status"] == "skipped" for r in later)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        opted = conn.execute(select(Patient.external_id).where(Patient.opted_out_at.isnot(None)))
        assert [r[0] for r in opted] == ["P2"]
    engine.dispose()


def test_the_twilio_backend_without_credentials_stops_at_start(db_url):
    seed(db_url, 1, datetime.now(UTC))
    env = clean_env()
    env.update(FOLLOWUP_DATABASE_URL=db_url, FOLLOWUP_SMS_BACKEND="twilio")
    result = subprocess.run(
        [*FOLLOWUP, "send-due", "--once"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "TWILIO_ACCOUNT_SID" in result.stderr + result.stdout
    assert all(status == "scheduled" for _, status, _, _ in rows(db_url))


def test_two_workers_share_the_outbox_and_survive_one_being_killed(db_url, tmp_path):
    n = 80
    seed(db_url, n, datetime.now(UTC))
    with FakeTwilio(latency=0.2) as fake:
        # small batches, so both workers keep claiming while the other one sends
        env = worker_env(db_url, fake, FOLLOWUP_BATCH_SIZE="8")
        a = Worker(env, tmp_path, "a")
        b = Worker(env, tmp_path, "b")
        try:
            # both are sending (the claims are shared, not taken turn by turn), then one dies
            wait_for(lambda: a.has_sent() and b.has_sent(), 30, "both workers sending")
            a.stop(signal.SIGKILL)
            wait_for(
                lambda: all(status == "sent" for _, status, _, _ in rows(db_url)), 60, "all sent"
            )
        finally:
            code, stderr = b.stop(signal.SIGTERM)
            a.stop(signal.SIGKILL)
        assert code == 0, stderr
        created = fake.created
    assert sorted(m["to"] for m in created) == [phone(i) for i in range(n)]
    assert {p: sid for p, _, sid, _ in rows(db_url)} == {m["to"]: m["sid"] for m in created}


def test_sigterm_mid_run_finishes_in_flight_sends_and_releases_the_rest(db_url, tmp_path):
    n = 40
    seed(db_url, n, datetime.now(UTC))
    with FakeTwilio(latency=0.2) as fake:
        worker = Worker(worker_env(db_url, fake), tmp_path, "w")
        try:
            wait_for(lambda: fake.count() >= 4, 30, "the first texts")
        finally:
            code, stderr = worker.stop(signal.SIGTERM)
        created = {m["to"]: m["sid"] for m in fake.created}
    assert code == 0, stderr
    final = rows(db_url)
    statuses = [status for _, status, _, _ in final]
    assert "sending" not in statuses  # nothing left for a lease to recover
    assert set(statuses) == {"sent", "scheduled"}
    # every text Twilio created was recorded as sent, with its SID; the rest wait unsent
    assert {p: sid for p, status, sid, _ in final if status == "sent"} == created
    engine = make_engine(db_url)
    with engine.connect() as conn:
        released = conn.execute(
            select(OutboundMessage.attempts, OutboundMessage.reason).where(
                OutboundMessage.step == "aftercare", OutboundMessage.status == "scheduled"
            )
        ).all()
    engine.dispose()
    assert released and all(
        (attempts, reason) == (0, "released unsent: worker stopping")
        for attempts, reason in released
    )
