"""Shared fixtures: every database test runs on SQLite and, when reachable, on PostgreSQL.

PostgreSQL is found through FOLLOWUP_TEST_POSTGRES_URL or the local server
(postgresql://postgres@127.0.0.1:5432/postgres). With FOLLOWUP_REQUIRE_POSTGRES=1 (set by
.ci/run) an unreachable server fails the run instead of skipping those tests. Each test run
creates its own PostgreSQL database, migrates it once, and truncates the tables between tests;
each SQLite test gets a fresh migrated file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from support.cli_run import run
from support.webhooks import Clinics

from followup.config import load_settings
from followup.runtime import Runtime
from followup.store.engine import make_engine, make_sessionmaker, upgrade
from followup.store.models import Base

pytest_plugins = ["support.clinic_web"]  # the ``clinic_web`` fixture of the clinic side

#: the on-call phone of the test clinics (seeding.HARBOR and the ``clinic`` fixture)
ONCALL_PHONE = "+12015550190"
LOCAL_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_TEMPLATE_SQLITE: dict[str, Path] = {}


def _admin_pg_url() -> str:
    url = os.environ.get("FOLLOWUP_TEST_POSTGRES_URL") or LOCAL_PG
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _pg_reachable(url: str) -> str | None:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # the reason is shown in the skip message
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run; dropped at the end."""
    admin = _admin_pg_url()
    problem = _pg_reachable(admin)
    if problem:
        if os.environ.get("FOLLOWUP_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {admin}: {problem}")
        pytest.skip(f"PostgreSQL unreachable ({problem})")
    name = f"followup_test_{uuid.uuid4().hex[:10]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()


def _fresh_sqlite(tmp_path: Path) -> str:
    # Migrate once per run into a template file, then copy it: same schema, far less time.
    if "db" not in _TEMPLATE_SQLITE:
        template = (
            Path(os.environ.get("PYTEST_TMPDIR", "/tmp")) / f"followup-tpl-{uuid.uuid4().hex}.db"
        )
        upgrade(f"sqlite:///{template}")
        _TEMPLATE_SQLITE["db"] = template
    target = tmp_path / "followup.db"
    target.write_bytes(_TEMPLATE_SQLITE["db"].read_bytes())
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return _fresh_sqlite(tmp_path)
    url = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of an empty, migrated SQLite database (for tests that need only one backend)."""
    return _fresh_sqlite(tmp_path)


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Process environment pointing followup at the test database, console backend, and a
    spool of the test's own (never a ``followup-spool`` beside the checkout)."""
    for name in list(os.environ):
        if name.startswith(("FOLLOWUP_", "TWILIO_")) and name != "FOLLOWUP_TEST_POSTGRES_URL":
            monkeypatch.delenv(name, raising=False)
    spool = str(tmp_path / "spool")
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", db_url)
    monkeypatch.setenv("FOLLOWUP_SPOOL_DIR", spool)
    return {"FOLLOWUP_DATABASE_URL": db_url, "FOLLOWUP_SPOOL_DIR": spool}


@pytest.fixture
def runtime(env: dict[str, str]) -> Iterator[Runtime]:
    rt = Runtime(load_settings(env))
    yield rt
    rt.close()


@pytest.fixture
def sessions(runtime: Runtime):
    return make_sessionmaker(runtime.engine)


@pytest.fixture
def clinic(env):
    """The Harbor Physio clinic (New York), added through ``followup clinics add``, with an
    on-call phone (a clinic nobody can alert texts nobody)."""
    result = run(
        "clinics",
        "add",
        "--slug",
        "harbor",
        "--name",
        "Harbor Physio",
        "--timezone",
        "America/New_York",
        "--phone",
        "+12015550100",
        "--oncall-phone",
        ONCALL_PHONE,
    )
    assert result.exit_code == 0, result.output
    return "harbor"


@pytest.fixture
def clinics(runtime: Runtime) -> Clinics:
    """Harbor and Bay with their treated patients, as the tests of replies and consent
    start from (:class:`support.webhooks.Clinics`)."""
    return Clinics(runtime)


# Property tests check behaviour, not speed: a loaded CI machine must not fail them on time.
settings.register_profile("followup", deadline=None)
settings.load_profile("followup")
