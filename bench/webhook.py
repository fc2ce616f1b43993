"""Benchmark: signed inbound SMS replies per second through the real web server, with writes.

    python bench/webhook.py                          # SQLite and PostgreSQL, 3 rounds of 4,000
    python bench/webhook.py --quick                  # smoke run, well under a minute
    python bench/webhook.py --backend sqlite --requests 8000 --rounds 5 --profile

What is measured: ``POST /twilio/inbound`` as Twilio sends it (form-encoded, the twenty fields
of a real inbound SMS, a valid ``X-Twilio-Signature``), answered by the real server started as
``followup web`` in a process of its own (uvicorn, Starlette, the SDK's ``RequestValidator``,
``followup.inbound.receive.receive`` with its queries and its INSERT in one transaction, staff
alerts queued and sent by the app's alert sender on the console gateway). Each reply links to a
seeded patient (one clinic, ``--patients`` patients, each with a ``checkin_24h`` text sent an
hour ago) and has a MessageSid of its own, so every request writes an ``inbound_messages``
row; after the run the rows are counted against the requests sent. The mix of texts: about
70 % soreness scores ("3", "about a 6", "7/10"), 15 % free text, 10 % red flags ("chest
pain", "bleeding won't stop"), 5 % thanks. A patient's scores ease a point per reply, give
or take one (random scores would go up half the time, and each rise raises a call-back).
Red flags, scores of 7 and more and rises raise flags and page the clinic's on-call phone,
as they would in a clinic; the database check reports how many pages were sent, how late,
and how many were still pending when the server stopped.

How, and why so: the machine has few cores, and every cycle the load generator spends is
taken from the server it measures. So the client is as light as it can be made:

- every request (headers, body, signature) is built and signed before any timing starts;
- one client process (not one per connection, not this orchestrating process) runs
  ``--clients`` connections (default 16) as asyncio streams (on uvloop when installed):
  raw HTTP/1.1 keep-alive, one request in flight per connection, the answer read by its
  Content-Length, the latency of each taken with ``time.perf_counter`` from the write to
  the last byte of the answer. No HTTP library: httpx or requests would cost more CPU per
  request than parts of the server being measured.

Every answer must be 200; anything else is counted, reported, and fails the run. A warm-up
(``--warmup``, default 300 requests) runs first, then ``--rounds`` rounds (default 3) of
``--requests`` requests (default 4,000), each on fresh connections. Per round: replies per
second, latency p50, p90, p99 and max (nearest rank), the server's CPU seconds
(``/proc/<pid>/stat`` utime + stime), the client's (``time.process_time``), the PostgreSQL
server processes', how busy the whole machine was (``/proc/stat``) and the CPU seconds of
everything else that ran meanwhile ("other": another job on the machine disturbs the
figures; approximate, to a few tenths of a second), so a reader sees whether the machine was
saturated, and by what. The medians over the rounds are the headline figures. Each backend's
figures also carry the time of ``sum(range(1000))`` before and after its rounds: the speed
of this kind of shared virtual machine drifts by a third within minutes.

``--profile`` then serves the same database from an instrumented server (this file with
``--serve``, the same app and uvicorn settings as ``followup web``) for one more round each:

- ``phases``: CPU (``time.thread_time``) and wall microseconds per request in the parts of a
  request: signature check, form parsing, TwiML, the rest of the event-loop thread (uvicorn,
  Starlette, asyncio), each step of ``followup.inbound.receive.receive`` (its queries and
  INSERTs, reading the reply, triage, the answer), the transaction (BEGIN, COMMIT, session),
  the alert sender's runs; and per SQL statement (cursor execution, from SQLAlchemy's engine
  events). Only counted between the end of the warm-up and the end of the round (the client
  signals both). Only public seams are used: the steps are public functions, wrapped in the
  modules that define them (receive and the web hooks call them through those modules, as
  their docstrings say), and the app is given an alert sender driven through its public
  ``run_once`` from a thread of this file (:class:`DrivenAlerts`). A step that is never
  called fails the run, rather than leaving a hole in the breakdown.
- ``cprofile``: cProfile of the event-loop thread and of every database call in the worker
  threads and of the alert sender's runs, merged; the top functions by cumulative and own
  time, and the alert sender's. Its timer is the wall clock, so waits (for the GIL, for
  SQLite's write lock) show up in the functions that waited.

Targets (SQLite, this 2-core machine): at least 300 replies a second, p99 under 100 ms.
Prints a table and writes JSON (default bench/results/webhook.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchdb import Database, backend_name, machine  # noqa: E402

HOST = "127.0.0.1"
PATH = "/twilio/inbound"
TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
#: the bench clinic's own number (bench/dispatch.py's CLINIC): the ``To`` of every reply
CLINIC_NUMBER = "+12015550111"
ONCALL_PHONE = "+12015550199"
TARGET = {"backend": "sqlite", "replies_per_second": 300, "p99_ms": 100}
#: server variables that would change what is measured (a real Twilio backend, a mock API)
DROPPED_ENV = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_FROM_NUMBER",
    "TWILIO_MESSAGING_SERVICE_SID",
    "FOLLOWUP_SMS_BACKEND",
    "FOLLOWUP_TWILIO_API_URL",
)

# -- the replies -----------------------------------------------------------------------------

#: a patient's first score, mostly low-to-middling as after a session (0..10); 7+ raises a
#: call-back flag, as does a score higher than the patient's last one
SCORE_WEIGHTS = (2, 6, 10, 12, 10, 9, 7, 5, 3, 1, 1)
SCORE_FORMS = ("{n}", "{n}", "about a {n}", "{n}/10", "I'd say {n}", "{n} out of 10", "maybe {n}")
FREE_TEXT = (
    "My calf is still a bit tight, is that normal?",
    "Can I go for a run tomorrow?",
    "Feeling much better today, the stiffness is mostly gone",
    "Sore when I walk downstairs but ok otherwise",
    "What time is my next appointment?",
    "Should I keep doing the stretches twice a day?",
    "A little bruised where the needles went in",
    "Slept badly, neck is stiff this morning",
)
RED_FLAGS = (
    "chest pain",
    "bleeding won't stop",
    "I have chest pain since last night",
    "the bleeding won't stop where the needle went in",
    "Chest pain and short of breath",
)
THANKS = ("thanks", "Thank you!", "thanks, all good")
MIX = (("score", 70), ("free_text", 15), ("red_flag", 10), ("thanks", 5))


def score(first: int, reply: int, rng: random.Random) -> int:
    """A patient's ``reply``-th score (0, 1, ...): soreness eases a point a day from the first
    score, give or take one, so a few replies still go up (and raise a call-back)."""
    return min(10, max(0, first - reply + rng.choice((-1, 0, 0, 1))))


def reply_text(kind: str, rng: random.Random, soreness: int) -> str:
    if kind == "score":
        return rng.choice(SCORE_FORMS).format(n=soreness)
    return rng.choice({"free_text": FREE_TEXT, "red_flag": RED_FLAGS, "thanks": THANKS}[kind])


def inbound_fields(sid: str, sender: str, body: str) -> dict[str, str]:
    """The fields Twilio posts for an incoming SMS to a US number (all of them, as sent)."""
    return {
        "ToCountry": "US",
        "ToState": "NJ",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "HACKENSACK",
        "FromZip": "07601",
        "SmsSid": sid,
        "FromState": "NJ",
        "SmsStatus": "received",
        "FromCity": "HACKENSACK",
        "Body": body,
        "FromCountry": "US",
        "To": CLINIC_NUMBER,
        "ToZip": "07601",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


def build_requests(
    first: int, count: int, phones: list[str], port: int, public_url: str
) -> tuple[list[bytes], dict[str, int]]:
    """``count`` signed POSTs, MessageSids from number ``first`` on, senders round-robin over
    ``phones`` (16 connections never write for the same patient at once); and the mix."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    rng = random.Random(20260610 + first)
    kinds = rng.choices([k for k, _ in MIX], [w for _, w in MIX], k=count)
    mix = {k: kinds.count(k) for k, _ in MIX}
    firsts = random.Random(1).choices(range(11), SCORE_WEIGHTS, k=len(phones))
    url = public_url + PATH
    out = []
    for i, kind in zip(range(first, first + count), kinds, strict=True):
        sid = f"SM{i:032x}"
        patient, nth = i % len(phones), i // len(phones)  # the patient's nth reply
        text = reply_text(kind, rng, score(firsts[patient], nth, rng))
        fields = inbound_fields(sid, phones[patient], text)
        body = urlencode(fields).encode()
        head = (
            f"POST {PATH} HTTP/1.1\r\n"
            f"Host: {HOST}:{port}\r\n"
            "User-Agent: TwilioProxy/1.1\r\n"
            "Accept: */*\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {validator.compute_signature(url, fields)}\r\n"
            f"I-Twilio-Idempotency-Token: {uuid.UUID(int=i)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out, mix


# -- CPU accounting (/proc) --------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """utime + stime of a process, seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def postgres_cpu() -> float:
    """utime + stime of every process named ``postgres`` on this machine, seconds."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")] == "postgres":
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def python_speed() -> float:
    """Microseconds for ``sum(range(1000))`` (best of 5): this machine's speed drifts (shared
    virtual CPUs), so each backend's figures carry it, measured before and after."""
    import timeit

    return round(min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6, 2)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot (/proc/stat)."""
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


# -- the load generator (a child process) ------------------------------------------------------


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def run_batch(port: int, requests: list[bytes], clients: int) -> dict[str, Any]:
    """Send ``requests`` over ``clients`` fresh keep-alive connections, one request in flight
    on each; the wall time of the batch, each request's latency and the non-200 answers."""
    conns = [await _connect(port) for _ in range(clients)]
    latencies = [0.0] * len(requests)
    errors: list[str] = []
    order = iter(range(len(requests)))  # shared: each connection takes the next request

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in order:
            t0 = time.perf_counter()
            try:
                writer.write(requests[i])
                head = await reader.readuntil(b"\r\n\r\n")
                at = head.lower().find(b"\r\ncontent-length:")
                length = 0
                if at >= 0:
                    stop = head.find(b"\r\n", at + 2)
                    length = int(head[at + 17 : stop])
                body = await reader.readexactly(length) if length else b""
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                latencies[i] = time.perf_counter() - t0
                errors.append(f"request {i}: {type(exc).__name__}: {exc}")
                writer.close()
                reader, writer = await _connect(port)
                continue
            latencies[i] = time.perf_counter() - t0
            if head[9:12] != b"200":
                errors.append(f"request {i}: {head.split(b' ', 2)[1].decode()} {body[:200]!r}")
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(r, w) for r, w in conns))
    return {"seconds": time.perf_counter() - t0, "latencies": latencies, "errors": errors}


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


async def load(spec: dict[str, Any]) -> dict[str, Any]:
    """Build and sign every request, then the warm-up and the timed rounds (see the module
    docstring). With ``spec["signal"]`` the server is sent SIGUSR1 before the first timed
    round and SIGUSR2 after the last (the instrumented server counts between the two)."""
    port, clients, n, pid = spec["port"], spec["clients"], spec["requests"], spec["server_pid"]
    warmup, rounds = spec["warmup"], spec["rounds"]
    requests, mix = build_requests(
        spec["first_sid"], warmup + rounds * n, spec["phones"], port, spec["public_url"]
    )
    if warmup:
        warm = await run_batch(port, requests[:warmup], clients)
        if warm["errors"]:
            return {"error": "warm-up failed", "errors": warm["errors"][:20]}
    if spec["signal"]:
        os.kill(pid, signal.SIGUSR1)
        await asyncio.sleep(0.2)
    out = []
    for r in range(rounds):
        batch = requests[warmup + r * n : warmup + (r + 1) * n]
        server0, client0, pg0 = process_cpu(pid), time.process_time(), postgres_cpu()
        busy0, total0 = machine_ticks()
        result = await run_batch(port, batch, clients)
        server1, client1, pg1 = process_cpu(pid), time.process_time(), postgres_cpu()
        busy1, total1 = machine_ticks()
        lat = sorted(x * 1000 for x in result["latencies"])
        seconds = result["seconds"]
        out.append(
            {
                "requests": n,
                "seconds": round(seconds, 3),
                "replies_per_second": round(n / seconds, 1),
                "p50_ms": round(percentile(lat, 50), 2),
                "p90_ms": round(percentile(lat, 90), 2),
                "p99_ms": round(percentile(lat, 99), 2),
                "max_ms": round(lat[-1], 2),
                "mean_ms": round(statistics.fmean(lat), 2),
                "errors": len(result["errors"]),
                "error_samples": result["errors"][:10],
                "server_cpu_s": round(server1 - server0, 2),
                "server_cpu_ms_per_request": round((server1 - server0) * 1000 / n, 3),
                "client_cpu_s": round(client1 - client0, 2),
                "postgres_cpu_s": round(pg1 - pg0, 2),
                "machine_busy_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
                # anything else running on the machine meanwhile (other jobs disturb the figures)
                "other_cpu_s": round(
                    (busy1 - busy0) / TICK
                    - (server1 - server0)
                    - (client1 - client0)
                    - (pg1 - pg0),
                    2,
                ),
            }
        )
    if spec["signal"]:
        os.kill(pid, signal.SIGUSR2)
    return {"rounds": out, "mix": mix, "sent": len(requests)}


def client_main(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(load(spec))
    else:
        result = uvloop.run(load(spec))
    print(json.dumps(result), flush=True)


def run_client(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    path = workdir / "client.json"
    path.write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, __file__, "--client", str(path)], stdout=subprocess.PIPE, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"load generator failed (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "error" in result:
        raise SystemExit(f"load generator: {result['error']}: {result['errors']}")
    return result


# -- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


_PROBLEM = re.compile(r"ERROR|CRITICAL|Traceback|[Ee]rror:|database is locked")


class Server:
    """``followup web`` (or this file's instrumented ``--serve``) in a child process, on a free
    port, with the settings the bench needs; ``with Server(...) as server: ...``."""

    def __init__(self, url: str, workdir: Path, instrument: str | None = None) -> None:
        self.port = free_port()
        self.public_url = f"http://{HOST}:{self.port}"
        self.log = workdir / f"server-{self.port}.log"
        self.out = workdir / f"server-{self.port}.json"
        self.instrument = instrument
        env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        env.update(
            FOLLOWUP_DATABASE_URL=url,
            TWILIO_AUTH_TOKEN=TOKEN,
            FOLLOWUP_PUBLIC_URL=self.public_url,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        )
        self.env = env
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        if self.instrument:
            cmd = [sys.executable, __file__, "--serve", self.instrument, "--serve-out"]
            cmd += [str(self.out), "--port", str(self.port)]
        else:
            cmd = [sys.executable, "-m", "followup.cli", "web", "--port", str(self.port)]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.public_url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"server did not answer /healthz in 60 s:\n{self.tail()}")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def problems(self) -> dict[str, Any]:
        """Errors the server logged (tracebacks, "database is locked"...): count and samples."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return {"count": 0, "samples": []}
        bad = [line for line in lines if _PROBLEM.search(line)]
        return {"count": len(bad), "samples": list(dict.fromkeys(bad))[:5]}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- seeding and checking the database ---------------------------------------------------------


def seed(url: str, patients: int, now: datetime) -> list[str]:
    """The bench clinic (its on-call phone set, so flags page someone) and ``patients``
    consenting patients, each with a completed session and a ``checkin_24h`` text sent an
    hour ago; written in bulk. Returns the patients' phones."""
    from dispatch import insert_treated, tidy
    from sqlalchemy import select, update

    from followup.store.engine import bulk_insert, make_engine
    from followup.store.models import Clinic, OutboundMessage, Patient

    sent = now - timedelta(hours=1)
    engine = make_engine(url)
    with engine.begin() as conn:
        clinic_id = insert_treated(
            conn,
            patients,
            completed_at=now - timedelta(hours=25),
            created_at=now - timedelta(days=2),
            plan_pending=False,
        )
        conn.execute(update(Clinic).values(oncall_phone=ONCALL_PHONE))
        rows = [
            {
                "clinic_id": clinic_id,
                "session_id": i + 1,
                "patient_id": i + 1,
                "step": "checkin_24h",
                "template_key": "checkin_24h",
                "locale": "en",
                "priority": 50,
                "due_at": sent,
                "send_at": sent,
                "expires_at": sent + timedelta(hours=20),
                "status": "sent",
                "attempts": 1,
                "provider_sid": f"SMbe{i:030x}",
                "provider_status": "sent",
                "body": "Bench Physio: how sore are you today, 0 to 10? Reply STOP to opt out.",
                "sent_at": sent,
                "created_at": now - timedelta(hours=25),
                "updated_at": sent,
            }
            for i in range(patients)
        ]
        bulk_insert(conn, OutboundMessage.__table__, rows)
        phones = list(conn.execute(select(Patient.phone).order_by(Patient.id)).scalars())
    tidy(engine, ("patients", "treatment_sessions", "outbound_messages"))
    engine.dispose()
    return phones


def db_check(url: str) -> dict[str, Any]:
    """What the run wrote: inbound rows (and by kind), flags by kind, staff alerts by status."""
    from sqlalchemy import func, select

    from followup.store.engine import make_engine
    from followup.store.models import Flag, InboundMessage, StaffAlert

    engine = make_engine(url)
    with engine.connect() as conn:

        def by(column: Any) -> dict[str, int]:
            rows = conn.execute(select(column, func.count()).group_by(column)).all()
            return {str(k): n for k, n in sorted(rows, key=lambda r: str(r[0]))}

        out = {
            "inbound_messages": conn.execute(
                select(func.count()).select_from(InboundMessage)
            ).scalar_one(),
            "linked_to_checkin": conn.execute(
                select(func.count())
                .select_from(InboundMessage)
                .where(InboundMessage.in_reply_to.is_not(None))
            ).scalar_one(),
            "kinds": by(InboundMessage.kind),
            "flags": by(Flag.kind),
            "staff_alerts": by(StaffAlert.status),
        }
        # how long a page waited for the app's alert sender (created with the flag, in the
        # webhook's transaction); those still pending were left when the server stopped
        delays = sorted(
            (sent - created).total_seconds()
            for created, sent in conn.execute(
                select(StaffAlert.created_at, StaffAlert.sent_at).where(
                    StaffAlert.sent_at.is_not(None)
                )
            )
        )
        if delays:
            out["staff_alert_delay_s"] = {
                "p50": round(percentile(delays, 50), 2),
                "p99": round(percentile(delays, 99), 2),
                "max": round(delays[-1], 2),
            }
    engine.dispose()
    return out


def vacuum(url: str) -> None:
    """Between rounds' servers: statistics for PostgreSQL's planner, the SQLite WAL folded."""
    from dispatch import tidy

    from followup.store.engine import make_engine

    engine = make_engine(url)
    tidy(engine, ("inbound_messages", "flags", "staff_alerts"))
    engine.dispose()


# -- the instrumented server (a child process, --serve) ----------------------------------------


class Phases:
    """CPU (``time.thread_time``) and wall seconds spent in wrapped functions, per name, while
    on (SIGUSR1 to SIGUSR2). Nested wrappers each count their own, whole, time."""

    def __init__(self) -> None:
        self.on = False
        self.lock = threading.Lock()
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, name: str, cpu: float, wall: float) -> None:
        with self.lock:
            self.cpu[name] = self.cpu.get(name, 0.0) + cpu
            self.wall[name] = self.wall.get(name, 0.0) + wall
            self.calls[name] = self.calls.get(name, 0) + 1

    def timed(self, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self.on:
                return fn(*args, **kwargs)
            c0, w0 = time.thread_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.thread_time() - c0, time.perf_counter() - w0)

        return wrapper

    def patch(self, owner: Any, attr: str, name: str) -> None:
        setattr(owner, attr, self.timed(getattr(owner, attr), name))


_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)")


def _statement_label(statement: str) -> str:
    """A short name for a SQL statement of the inbound path, whatever wrote it (ORM or text)."""
    words = " ".join(statement.split())
    verb = words.split(" ", 1)[0].upper()
    found = _TABLE.search(words)
    table = found.group(1) if found else ""
    if verb == "SELECT":
        if "reply_body" in words and "provider_sid" in words:
            return "SELECT inbound by MessageSid (a repeated MessageSid)"
        if "FROM patients" in words:
            return "SELECT patients (with latest check-in and reply history)"
        history = ("score IS NOT NULL" in words, "reply_received" in words)
        if all(history):
            return "SELECT reply history (previous score, acknowledged)"
        if history[0]:
            return "SELECT previous score"
        if history[1]:
            return "SELECT acknowledged recently"
        if table == "outbound_messages":
            return "SELECT latest check-in"
    return f"{verb} {table}".strip()


#: the steps of followup.inbound.receive.receive that --profile times: public functions,
#: wrapped in the module that defines them, which receive calls through that module
RECEIVE_PARTS = (
    ("followup.inbound.receive", "clinics_texted", "db: receive: clinics_texted"),
    (
        "followup.inbound.receive",
        "records_answering",
        "db: receive: records_answering (patients, check-in, history)",
    ),
    ("followup.store.replies", "history_of_number", "db: receive: replies.history_of_number"),
    ("followup.inbound.receive", "read_reply", "cpu: receive: read_reply (reading.classify)"),
    ("followup.inbound.triage", "decide", "cpu: receive: triage.decide"),
    ("followup.inbound.receive", "render_reply", "cpu: receive: render_reply"),
    ("followup.store.replies", "file_reply", "db: receive: replies.file_reply (INSERT inbound)"),
    ("followup.store.flags", "open_flag", "db: receive: flags.open_flag (INSERT flags)"),
    (
        "followup.staff.alerts",
        "queue_alerts",
        "db: receive: alerts.queue_alerts (INSERT staff_alerts)",
    ),
)
#: parts every request of the bench's mix goes through: none called means the wrapping
#: missed (a caller that imported the function by name), and the breakdown would lie
ALWAYS_CALLED = (
    "db: receive()",
    "db: receive: clinics_texted",
    "db: receive: records_answering (patients, check-in, history)",
    "cpu: receive: read_reply (reading.classify)",
    "cpu: receive: triage.decide",
    "db: receive: replies.file_reply (INSERT inbound)",
)
ALERTS_PART = "alerts: AlertSender.run_once (a thread of its own)"


class DrivenAlerts:
    """The app's staff-alert sender, run from a thread of this file through its public
    ``run_once`` when the app kicks it (as the sender's own thread would, and at least every
    ``POLL_INTERVAL``), so that each run can be timed or profiled. Given to the app, which
    then leaves starting and stopping it to us."""

    def __init__(self, sender: Any, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]):
        from followup.staff.alerts import POLL_INTERVAL

        self.run = wrap(sender.run_once)
        self.poll = POLL_INTERVAL
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="bench-alerts", daemon=True)

    def kick(self) -> None:
        self.wake.set()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(self.poll)
            self.wake.clear()
            if not self.stopping.is_set():
                self.run()

    def __enter__(self) -> DrivenAlerts:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(10)


def instrument_phases(runtime: Any, phases: Phases) -> DrivenAlerts:
    """Wrap the parts of a request (see the module docstring) and the engine's statements;
    returns the alert sender to give the app."""
    import importlib

    from sqlalchemy import event
    from twilio.request_validator import RequestValidator

    from followup.inbound import receive
    from followup.web import twilio_hooks

    phases.patch(RequestValidator, "validate", "loop: signature check (RequestValidator)")
    phases.patch(twilio_hooks, "parse_form", "loop: form parsing (parse_form)")
    phases.patch(twilio_hooks, "twiml", "loop: TwiML (twiml)")
    original = twilio_hooks.on_db_thread

    async def on_db(state: Any, fn: Callable[[], Any]) -> Any:
        queued = time.perf_counter()

        def work() -> Any:
            if phases.on:
                phases.add(
                    "wait: for the DB thread (queue and hand-off, wall)",
                    0.0,
                    time.perf_counter() - queued,
                )
            return phases.timed(fn, "db: whole transaction (work())")()

        return await original(state, work)

    twilio_hooks.on_db_thread = on_db
    phases.patch(receive, "receive", "db: receive()")
    for module, attr, name in RECEIVE_PARTS:
        phases.patch(importlib.import_module(module), attr, name)  # a renamed part fails here

    engine = runtime.engine
    local = threading.local()

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        local.start = (time.thread_time(), time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if phases.on and getattr(local, "start", None):
            c0, w0 = local.start
            phases.add(
                "sql: " + _statement_label(statement),
                time.thread_time() - c0,
                time.perf_counter() - w0,
            )

    engine.dialect.do_commit = phases.timed(engine.dialect.do_commit, "sql: COMMIT")
    return DrivenAlerts(runtime.alert_sender(), lambda fn: phases.timed(fn, ALERTS_PART))


class ThreadProfiles:
    """cProfile per thread, merged: the event-loop thread from SIGUSR1 to SIGUSR2, and each
    database call in a worker thread (and each alert-sender run) in between."""

    def __init__(self) -> None:
        import cProfile

        self.make = cProfile.Profile
        self.on = False
        self.local = threading.local()
        self.all: list[Any] = []
        self.lock = threading.Lock()
        self.main = self.make()

    def profiled(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self.on:
                return fn(*args, **kwargs)
            prof = getattr(self.local, "prof", None)
            if prof is None:
                prof = self.local.prof = self.make()
                with self.lock:
                    self.all.append(prof)
            prof.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                prof.disable()

        return wrapper

    def report(self) -> str:
        import pstats

        out = io.StringIO()
        stats = pstats.Stats(self.main, stream=out)
        with self.lock:
            for prof in self.all:
                stats.add(prof)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        out.write("The alert sender's thread (and its database calls):\n")
        stats.sort_stats("cumulative").print_stats(r"alerts\.py|db\.py|gateways", 25)
        return out.getvalue()


def instrument_cprofile(runtime: Any, profiles: ThreadProfiles) -> DrivenAlerts:
    """Profile every database call of the webhook; returns the alert sender to give the app,
    whose runs are profiled too."""
    from followup.web import twilio_hooks

    original = twilio_hooks.on_db_thread

    async def on_db(state: Any, fn: Callable[[], Any]) -> Any:
        return await original(state, profiles.profiled(fn))

    twilio_hooks.on_db_thread = on_db
    return DrivenAlerts(runtime.alert_sender(), profiles.profiled)


def serve_main(mode: str, port: int, out: Path) -> None:
    """The app as ``followup web`` serves it, instrumented by ``mode`` (phases or cprofile);
    SIGUSR1 starts counting, SIGUSR2 stops and writes ``out``."""
    import logging

    from followup.runtime import Runtime
    from followup.web.server import serve_app

    logging.basicConfig(level=logging.WARNING)
    runtime = Runtime.from_env()
    phases = Phases()
    profiles = ThreadProfiles()
    if mode == "phases":
        alerts = instrument_phases(runtime, phases)
    else:
        alerts = instrument_cprofile(runtime, profiles)
    main_cpu = [0.0]

    def start(_sig: int, _frame: Any) -> None:
        main_cpu[0] = time.thread_time()
        if mode == "phases":
            with phases.lock:
                phases.cpu.clear()
                phases.wall.clear()
                phases.calls.clear()
            phases.on = True
        else:
            profiles.on = True
            profiles.main.enable()

    def stop(_sig: int, _frame: Any) -> None:
        loop_cpu = time.thread_time() - main_cpu[0]
        if mode == "phases":
            phases.on = False
            with phases.lock:
                data = {
                    "loop_thread_cpu_s": loop_cpu,
                    "cpu": dict(phases.cpu),
                    "wall": dict(phases.wall),
                    "calls": dict(phases.calls),
                }
        else:
            profiles.main.disable()
            profiles.on = False
            data = {"loop_thread_cpu_s": loop_cpu}
        out.write_text(json.dumps(data))
        if mode == "cprofile":
            out.with_suffix(".prof.txt").write_text(profiles.report())

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    with contextlib.suppress(KeyboardInterrupt), alerts:
        alerts.kick()  # alerts left pending by the timed rounds go out now, as at a start
        serve_app(runtime, HOST, port, alerts=alerts)  # type: ignore[arg-type]
    runtime.close()


def breakdown(data: dict[str, Any], requests: int, server_cpu_s: float) -> dict[str, Any]:
    """Microseconds per request by phase, from an instrumented run's counters."""
    us = 1e6 / requests
    cpu, wall, calls = data["cpu"], data["wall"], data["calls"]
    rows: dict[str, dict[str, float]] = {}
    for name in sorted(cpu):
        rows[name] = {
            "cpu_us": round(cpu[name] * us, 1),
            "wall_us": round(wall[name] * us, 1),
            "calls_per_request": round(calls[name] / requests, 3),
        }
    loop = data["loop_thread_cpu_s"]
    loop_parts = sum(v for k, v in cpu.items() if k.startswith("loop: "))
    rows["loop: the rest (uvicorn, Starlette, asyncio, threadpool hand-off)"] = {
        "cpu_us": round((loop - loop_parts) * us, 1)
    }
    rows["loop: whole event-loop thread"] = {"cpu_us": round(loop * us, 1)}
    receive = cpu.get("db: receive()", 0.0)
    children = {name for _, _, name in RECEIVE_PARTS}
    inside = sum(v for k, v in cpu.items() if k in children)
    rows["db: receive: the rest (glue between the steps)"] = {
        "cpu_us": round((receive - inside) * us, 1)
    }
    work = cpu.get("db: whole transaction (work())", 0.0)
    rows["db: transaction overhead (BEGIN, COMMIT, connection, session if any)"] = {
        "cpu_us": round((work - receive) * us, 1)
    }
    alerts = cpu.get(ALERTS_PART, 0.0)
    rows["process: other threads and unaccounted"] = {
        "cpu_us": round((server_cpu_s - loop - work - alerts) * us, 1)
    }
    rows["process: total server CPU (/proc)"] = {"cpu_us": round(server_cpu_s * us, 1)}
    return rows


def print_breakdown(backend: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"  {backend}: server time per request by phase (instrumented run), microseconds")
    print(f"    {'phase':74} {'CPU':>8} {'wall':>8} {'calls':>6}")
    for name, r in rows.items():
        wall = f"{r['wall_us']:8.1f}" if "wall_us" in r else " " * 8
        calls = f"{r['calls_per_request']:6.2f}" if "calls_per_request" in r else ""
        print(f"    {name[:74]:74} {r['cpu_us']:8.1f} {wall} {calls}", flush=True)


# -- main --------------------------------------------------------------------------------------

ROUND_KEYS = ("replies_per_second", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")
CPU_KEYS = (
    "server_cpu_s",
    "server_cpu_ms_per_request",
    "client_cpu_s",
    "postgres_cpu_s",
    "machine_busy_pct",
    "other_cpu_s",
)


def medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: round(statistics.median(r[k] for r in rounds), 2) for k in ROUND_KEYS + CPU_KEYS
    }
    out["errors"] = sum(r["errors"] for r in rounds)
    return out


def print_round(label: str, r: dict[str, Any]) -> None:
    print(
        f"    {label:8} {r['replies_per_second']:>8.1f}/s  p50 {r['p50_ms']:>6.2f}  "
        f"p90 {r['p90_ms']:>6.2f}  p99 {r['p99_ms']:>7.2f}  max {r['max_ms']:>7.2f} ms  "
        f"errors {r['errors']}  CPU s: server {r['server_cpu_s']:.2f} "
        f"({r['server_cpu_ms_per_request']:.2f} ms/req), client {r['client_cpu_s']:.2f}, "
        f"postgres {r['postgres_cpu_s']:.2f}, other {r['other_cpu_s']:.2f}; "
        f"machine busy {r['machine_busy_pct']:.0f}%",
        flush=True,
    )


def bench_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    speed_before = python_speed()
    db = Database(backend, workdir)
    try:
        t0 = time.perf_counter()
        phones = seed(db.url, args.patients, datetime.now(UTC))
        seeded = round(time.perf_counter() - t0, 1)
        spec = {
            "clients": args.clients,
            "requests": args.requests,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "phones": phones,
            "first_sid": 0,
            "signal": False,
        }
        with Server(db.url, workdir) as server:
            result = run_client(
                {
                    **spec,
                    "port": server.port,
                    "public_url": server.public_url,
                    "server_pid": server.pid,
                },
                workdir,
            )
            log_tail = server.tail(5)
        problems = server.problems()
        rounds = result["rounds"]
        speed = {"before": speed_before, "after": python_speed()}
        print(
            f"  {backend} (seeded {args.patients} patients in {seeded} s; mix {result['mix']}; "
            f"sum(range(1000)) took {speed['before']} us before, {speed['after']} us after)"
        )
        for i, r in enumerate(rounds, 1):
            print_round(f"round {i}", r)
        med = medians(rounds)
        print_round("median", med)
        check = db_check(db.url)
        sent = result["sent"]
        print(
            f"    database: {check['inbound_messages']} inbound_messages rows for {sent} requests "
            f"sent ({check['linked_to_checkin']} linked to the check-in); kinds {check['kinds']}; "
            f"flags {check['flags']}; staff alerts {check['staff_alerts']}, sent after "
            f"(s) {check.get('staff_alert_delay_s')}",
            flush=True,
        )
        if problems["count"]:
            print(f"    server log: {problems['count']} error lines, e.g. {problems['samples']}")
        out: dict[str, Any] = {
            "median": med,
            "rounds": rounds,
            "mix": result["mix"],
            "requests_sent": sent,
            "database": check,
            "server_log_errors": problems,
            "seed_seconds": seeded,
            "python_speed_us": speed,
            "profile": None,
        }
        problems = []
        if med["errors"]:
            problems.append(f"{med['errors']} non-200 answers: {rounds[0]['error_samples'][:3]}")
        if check["inbound_messages"] != sent:
            problems.append(f"{check['inbound_messages']} rows stored for {sent} requests sent")
        if problems:
            print(f"server log:\n{log_tail}")
            raise SystemExit(f"{backend}: " + "; ".join(problems))
        if args.profile:
            out["profile"] = profile_backend(backend, db.url, spec, sent, args, workdir)
        return out
    finally:
        db.drop()


def profile_backend(
    backend: str,
    url: str,
    spec: dict[str, Any],
    first_sid: int,
    args: argparse.Namespace,
    workdir: Path,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("phases", "cprofile"):
        vacuum(url)
        with Server(url, workdir, instrument=mode) as server:
            result = run_client(
                {
                    **spec,
                    "rounds": 1,
                    "first_sid": first_sid,
                    "signal": True,
                    "port": server.port,
                    "public_url": server.public_url,
                    "server_pid": server.pid,
                },
                workdir,
            )
            first_sid += result["sent"]
            deadline = time.monotonic() + 10
            while not server.out.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            data = json.loads(server.out.read_text())
            r = result["rounds"][0]
            if r["errors"]:
                raise SystemExit(f"{backend} {mode}: {r['errors']} errors: {r['error_samples']}")
            print_round(mode, r)
            if mode == "phases":
                missed = [name for name in ALWAYS_CALLED if not data["calls"].get(name)]
                if missed:
                    raise SystemExit(f"{backend} phases: never called, not measured: {missed}")
                rows = breakdown(data, args.requests, r["server_cpu_s"])
                print_breakdown(backend, rows)
                out["phases"] = {"round": r, "us_per_request": rows}
            else:
                text = (
                    f"cProfile, all threads merged, {args.requests} requests, wall-clock timer\n"
                    + server.out.with_suffix(".prof.txt").read_text()
                )
                print(text if args.print_cprofile else "    (cProfile text in the JSON)")
                out["cprofile"] = {"round": r, "stats": text}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", "--backends", default="sqlite,postgresql")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--requests", type=int, default=4000, help="requests per timed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="also break a request down")
    parser.add_argument("--print-cprofile", action="store_true", help="print the cProfile text")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 500")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "webhook.json")
    parser.add_argument("--client", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve", choices=("phases", "cprofile"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client is not None:
        client_main(args.client)
        return
    if args.serve is not None:
        serve_main(args.serve, args.port, args.serve_out)
        return
    if args.quick:
        args.requests, args.rounds, args.warmup, args.patients = 500, 1, 100, 500
    backends = [backend_name(b) for b in args.backend.split(",") if b.strip()]
    import twilio
    import uvicorn

    try:
        import uvloop

        client_loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        client_loop = "asyncio"
    info = machine(twilio=twilio.__version__, uvicorn=uvicorn.__version__)
    if "postgresql" in backends and str(info["postgresql"]).startswith("unreachable"):
        print(f"PostgreSQL skipped: {info['postgresql']}", flush=True)
        backends.remove("postgresql")
    results: dict[str, Any] = {
        "machine": info,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "server": "followup web (uvicorn, one process), console SMS gateway",
            "clients": args.clients,
            "requests_per_round": args.requests,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "patients": args.patients,
            "mix_percent": dict(MIX),
            "scores": "a patient's first score drawn 0..10 (weights "
            f"{list(SCORE_WEIGHTS)}), then one less per reply, give or take one",
            "client": f"one process, asyncio streams on {client_loop}, raw HTTP/1.1 keep-alive, "
            "requests signed in advance",
            "percentiles": "nearest rank over the round's requests",
            "quick": args.quick,
        },
        "results": {},
        "target": TARGET,
        "met": {},
        "warnings": [],
    }
    print(
        f"webhook: {args.clients} clients, {args.rounds} rounds of {args.requests} signed "
        f"replies after {args.warmup} warm-up; latency in ms",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            results["results"][backend] = bench_backend(backend, args, Path(tmp))
    for backend, r in results["results"].items():
        med = r["median"]
        met = {
            "replies_per_second": med["replies_per_second"] >= TARGET["replies_per_second"],
            "p99_ms": med["p99_ms"] < TARGET["p99_ms"],
        }
        results["met"][backend] = met
        print(
            f"  {backend:10} {med['replies_per_second']:.1f}/s, p99 {med['p99_ms']:.1f} ms: "
            f"target {TARGET['replies_per_second']}/s and p99 < {TARGET['p99_ms']} ms "
            f"{'met' if all(met.values()) else 'MISSED'}"
            + ("" if backend == TARGET["backend"] else " (for reference: the target is SQLite's)"),
            flush=True,
        )
        alerts = r["database"]["staff_alerts"]
        if alerts.get("pending"):
            warning = (
                f"{backend}: {alerts['pending']} of {sum(alerts.values())} staff alerts still "
                f"pending when the server stopped (those sent waited "
                f"{r['database'].get('staff_alert_delay_s')} s): the alert sender did not keep up"
            )
            results["warnings"].append(warning)
            print(f"  WARNING {warning}", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
