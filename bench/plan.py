"""Benchmark: sessions planned per second, and peak memory of a large CSV import.

    python bench/plan.py                       # 10k and 100k sessions, SQLite and PostgreSQL
    python bench/plan.py --sizes 10000 --backends sqlite --import-rows 20000

Planning: N completed sessions (one patient each, completed over the last two days, a third of
them with a next appointment) are written straight into a fresh, migrated database, then
``plan_pending`` plans them all; the figure is sessions / wall-clock second of that call.

Import: a generated CSV of ``--import-rows`` rows is imported by ``followup import-sessions``
in a child process; the figure is that process's peak resident memory (ru_maxrss), which
includes the Python interpreter and libraries (about 60 MB before any row is read).

Targets (issue 2): at least 5,000 sessions a second on SQLite; import memory under 200 MB.
Prints a table and writes JSON (default bench/results/plan.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchdb import Database, machine  # noqa: E402

from followup.outbound.planner import plan_pending  # noqa: E402
from followup.store.engine import make_engine, make_sessionmaker  # noqa: E402
from followup.store.models import Clinic, Patient, TreatmentSession  # noqa: E402

NOW = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


def seed(url: str, n: int) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        clinic_id = conn.execute(
            insert(Clinic).returning(Clinic.id),
            [
                {
                    "slug": "bench",
                    "name": "Bench Physio",
                    "phone": "+12125550100",
                    "timezone": "America/New_York",
                    "country": "US",
                    "default_locale": "en",
                    "send_window_start": 480,
                    "send_window_end": 1200,
                    "emergency_number": "911",
                    "created_at": NOW,
                }
            ],
        ).scalar_one()
        chunk = 10_000
        for start in range(0, n, chunk):
            ids = range(start, min(n, start + chunk))
            conn.execute(
                insert(Patient),
                [
                    {
                        "id": i + 1,
                        "clinic_id": clinic_id,
                        "external_id": f"P{i}",
                        "first_name": "Ana",
                        "phone": f"+1201555{i % 10000:04d}",
                        "locale": "en",
                        "consent": True,
                        "consent_at": NOW,
                        "consent_method": "bench",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(TreatmentSession),
                [
                    {
                        "id": i + 1,
                        "clinic_id": clinic_id,
                        "external_id": f"S{i}",
                        "patient_id": i + 1,
                        "completed_at": NOW - timedelta(minutes=(i * 7) % (48 * 60)),
                        "status": "completed",
                        "regions": "neck;upper_back" if i % 4 == 0 else "calf",
                        "next_appointment_at": NOW + timedelta(days=3 + i % 7)
                        if i % 3 == 0
                        else None,
                        "plan_pending": True,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in ids
                ],
            )
        if engine.dialect.name == "postgresql":
            for table in ("patients", "treatment_sessions"):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n + 1})")
                )
            conn.execute(text("ANALYZE"))
    if engine.dialect.name == "sqlite":
        # fold the seed into the database file now, so planning does not pay for it
        raw = engine.raw_connection()
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.close()
    engine.dispose()


def plan_once(backend: str, n: int, workdir: Path) -> tuple[float, int, object]:
    db = Database(backend, workdir)
    try:
        seed(db.url, n)
        engine = make_engine(db.url)
        factory = make_sessionmaker(engine)
        t0 = time.perf_counter()
        report = plan_pending(factory, NOW)
        elapsed = time.perf_counter() - t0
        with engine.connect() as conn:
            messages = conn.execute(text("SELECT count(*) FROM outbound_messages")).scalar_one()
        engine.dispose()
        assert report.sessions == n, (report.sessions, n)
        return elapsed, messages, report
    finally:
        db.drop()


def bench_planning(backend: str, n: int, workdir: Path, repeat: int) -> dict:
    """Plan ``n`` fresh sessions ``repeat`` times, each in a fresh database; the median counts
    (this machine is a shared VM whose speed varies by a fifth from one run to the next)."""
    runs = [plan_once(backend, n, workdir) for _ in range(repeat)]
    seconds = sorted(r[0] for r in runs)
    median = statistics.median(seconds)
    _, messages, report = runs[0]
    return {
        "backend": backend,
        "sessions": n,
        "runs": repeat,
        "seconds_median": round(median, 3),
        "seconds_all": [round(s, 3) for s in seconds],
        "sessions_per_second": round(n / median),
        "sessions_per_second_best": round(n / seconds[0]),
        "messages": messages,
        "scheduled": report.scheduled,
        "skipped": report.skipped,
    }


def write_csv(path: Path, rows: int) -> None:
    with path.open("w") as f:
        f.write(
            "clinic,session_id,patient_id,first_name,phone,locale,consent,completed_at,"
            "regions,next_appointment_at\n"
        )
        for i in range(rows):
            appt = f"2026-06-{17 + i % 7:02d}T10:00:00" if i % 3 == 0 else ""
            f.write(
                f"bench,S{i},P{i},Ana,+1201555{i % 10000:04d},en,yes,"
                f"2026-06-10T{8 + i % 10:02d}:{i % 60:02d}:00,neck;upper_back,{appt}\n"
            )


def bench_import(rows: int, workdir: Path) -> dict:
    db = Database("sqlite", workdir)
    csv_path = workdir / "import.csv"
    write_csv(csv_path, rows)
    env = dict(os.environ, FOLLOWUP_DATABASE_URL=db.url)
    followup = [sys.executable, "-m", "followup.cli"]
    subprocess.run(
        [
            *followup,
            "clinics",
            "add",
            "--slug",
            "bench",
            "--name",
            "Bench Physio",
            "--timezone",
            "America/New_York",
            "--phone",
            "+12125550100",
        ],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    # ru_maxrss of children is the largest of all children waited for so far: the import
    # (the `clinics add` before it is far smaller)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*followup, "import-sessions", str(csv_path)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"import failed: {proc.stderr[-2000:]}")
    return {
        "backend": "sqlite",
        "rows": rows,
        "seconds": round(elapsed, 2),
        "rows_per_second": round(rows / elapsed),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "csv_mb": round(csv_path.stat().st_size / 2**20, 1),
        "summary": proc.stdout.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (median reported)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "plan.json")
    args = parser.parse_args()

    results: dict = {
        "machine": machine(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "planning": [],
        "import": None,
    }
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for backend in args.backends.split(","):
            for n in (int(s) for s in args.sizes.split(",")):
                r = bench_planning(backend, n, workdir, args.repeat)
                results["planning"].append(r)
                print(
                    f"plan   {backend:8} {n:>7} sessions  {r['seconds_median']:>7.2f} s  "
                    f"{r['sessions_per_second']:>6} sessions/s median of {r['runs']} "
                    f"(best {r['sessions_per_second_best']}; {r['messages']} outbox rows)",
                    flush=True,
                )
        if args.import_rows:
            r = bench_import(args.import_rows, workdir)
            results["import"] = r
            print(
                f"import sqlite   {r['rows']:>7} rows      {r['seconds']:>7.2f} s  "
                f"{r['rows_per_second']:>6} rows/s  peak RSS {r['peak_rss_mb']} MB "
                f"(CSV {r['csv_mb']} MB)",
                flush=True,
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
