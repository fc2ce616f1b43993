"""What every benchmark here needs: a throwaway migrated database per backend, and a
description of the machine the figures came from (kept with the figures in the JSON)."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from followup.store.engine import upgrade  # noqa: E402

PG_ADMIN = os.environ.get(
    "FOLLOWUP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
).replace("postgresql://", "postgresql+psycopg://", 1)


def backend_name(name: str) -> str:
    """``sqlite`` or ``postgresql`` (``postgres`` and ``pg`` accepted)."""
    name = name.strip().lower()
    if name in ("postgres", "postgresql", "pg"):
        return "postgresql"
    if name == "sqlite":
        return name
    raise SystemExit(f"unknown backend {name!r}: sqlite or postgresql")


def machine(**extra: object) -> dict:
    """CPU model, cores, Python, SQLite and PostgreSQL versions, plus ``extra``."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, object] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": None,
    }
    try:
        engine = create_engine(PG_ADMIN, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
    except Exception as exc:  # reported, not fatal: a SQLite-only run needs no server
        info["postgresql"] = f"unreachable: {str(exc).splitlines()[0]}"
    info.update(extra)
    return info


class Database:
    """A fresh migrated database of one backend, removed by :meth:`drop`."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend_name(backend)
        self.name = f"followup_bench_{uuid.uuid4().hex[:8]}"
        if self.backend == "sqlite":
            self.url = f"sqlite:///{workdir / (self.name + '.db')}"
        else:
            self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.name
        upgrade(self.url)

    def drop(self) -> None:
        if self.backend == "postgresql":
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(self.url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
