"""The clinic side as the tests use it: two clinics, North and South, each with two treated
patients, a staff member, an admin and an API key; an org account that sees both; and the
real app (FastAPI on the test database) behind a TestClient.

``ClinicWeb.login(email)`` goes through the login page as a browser does (its CSRF cookie and
field, then the cookie of the login session) and returns a client that carries the cookie,
with ``client.csrf`` for its forms and ``X-CSRF-Token`` headers. ``ClinicWeb.api(slug)``
returns a client that sends the clinic's key. The app's clock is ``ClinicWeb.clock``: set
``clock.now`` to move it.

``open_clinic_web`` builds the same seeded app without a client, for the browser tests,
which serve it on a real server instead.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from followup.access import accounts, keys, secrets
from followup.config import load_settings
from followup.gateways.base import Gateway
from followup.runtime import Runtime
from followup.store.engine import transaction
from followup.store.models import AuditEvent, Clinic, Patient
from followup.web.app import create_app
from support.seeding import midday_before, seed_treated

PASSWORD = "correct horse battery staple"
#: noon in New York on a weekday: the clinics are open, texts may go
NOW = midday_before(datetime(2026, 3, 11, 12, 0, tzinfo=UTC))

CLINICS = {
    "north": {"name": "North Physio", "phone": "+12015550100", "from_number": "+12015550111",
              "oncall_phone": "+12015550190", "first_id": 0,
              "patients": ["+12015550201", "+12015550202"]},
    "south": {"name": "South Physio", "phone": "+12015550300", "from_number": "+12015550311",
              "oncall_phone": "+12015550390", "first_id": 10,
              "patients": ["+12015550401", "+12015550402"]},
}  # fmt: skip


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ClinicWeb:
    runtime: Runtime
    app: object
    clock: Clock
    #: clinic slug -> its API key (shown once at creation)
    keys: dict[str, str] = field(default_factory=dict)
    clients: list[TestClient] = field(default_factory=list)

    @property
    def sessions(self):
        return self.runtime.sessions

    def start(self) -> None:
        """Run the app's lifespan (its alert sender, its spool drain) once, in one client;
        the clients of the tests send requests without running it again."""
        client = TestClient(self.app)
        client.__enter__()
        self.clients.append(client)

    def client(self, **kwargs) -> TestClient:
        return TestClient(self.app, follow_redirects=False, **kwargs)

    def login(self, email: str, password: str = PASSWORD) -> TestClient:
        client = self.client()
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        answer = client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )
        assert answer.status_code == 303, answer.text
        client.csrf = csrf_of(client)
        return client

    def api(self, slug: str) -> TestClient:
        return self.client(headers={"Authorization": f"Bearer {self.keys[slug]}"})

    def clinic_id(self, slug: str) -> int:
        with self.sessions() as db:
            return db.scalar(select(Clinic.id).where(Clinic.slug == slug))

    def patient_id(self, external_id: str) -> int:
        with self.sessions() as db:
            return db.scalar(select(Patient.id).where(Patient.external_id == external_id))

    def audit(self, action: str) -> list[AuditEvent]:
        """The audit events of ``action``, oldest first."""
        with self.sessions() as db:
            query = select(AuditEvent).where(AuditEvent.action == action)
            return list(db.scalars(query.order_by(AuditEvent.id)))

    def close(self) -> None:
        for client in self.clients:
            client.__exit__(None, None, None)


def csrf_of(client: TestClient) -> str:
    """The CSRF token of the client's login, as its pages carry it in their forms."""
    page = client.get("/account")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def email(slug: str, role: str) -> str:
    return f"{role}@{slug}.example"


ORG = "org@network.example"


@functools.cache
def _hash_of(password: str) -> str:
    return _real_hash(password)


_real_hash = secrets.hash_password


@contextlib.contextmanager
def _one_hash_per_run() -> Iterator[None]:
    """The seeded accounts' argon2 hash is made once per test run, not five times per test
    (argon2 is slow on purpose: 0.1-0.3 s a hash). It is a real hash of PASSWORD, so logging
    in still verifies it for real; only its salt is shared by the seeded accounts."""
    with mock.patch.object(secrets, "hash_password", _hash_of):
        yield


def open_clinic_web(
    env: dict[str, str], *, gateway: Gateway | None = None, **settings: str
) -> ClinicWeb:
    """The app on the database of ``env``, seeded with both clinics, their accounts and keys,
    not started. ``settings`` are more FOLLOWUP_/TWILIO_ variables (the browser tests give an
    auth token and the URL they serve on); ``gateway`` carries the staff alerts."""
    runtime = Runtime(load_settings({**env, "FOLLOWUP_DEV_MODE": "1", **settings}))
    done = NOW - timedelta(days=1)  # noon the day before: its aftercare went, no quiet hours
    for slug, c in CLINICS.items():
        seed_treated(
            runtime.sessions, c["patients"], done, first_id=c["first_id"], slug=slug,
            name=c["name"], phone=c["phone"], from_number=c["from_number"],
            oncall_phone=c["oncall_phone"],
        )  # fmt: skip
    clock = Clock(NOW)
    web = ClinicWeb(runtime, create_app(runtime, clock=clock, gateway=gateway), clock)
    with transaction(runtime.sessions) as db, _one_hash_per_run():
        for slug in CLINICS:
            for role in ("staff", "admin"):
                accounts.add_user(db, email=email(slug, role), role=role, clinics=[slug],
                                  password=PASSWORD, now=NOW)  # fmt: skip
            web.keys[slug] = keys.create_key(db, slug, NOW, label="tests").key
        accounts.add_user(db, email=ORG, role="org", clinics=list(CLINICS), password=PASSWORD,
                          now=NOW)  # fmt: skip
    return web


@pytest.fixture
def clinic_web(env) -> Iterator[ClinicWeb]:
    """The app on the test database (SQLite, and PostgreSQL when reachable), seeded."""
    web = open_clinic_web(env)
    web.start()
    try:
        yield web
    finally:
        web.close()
        web.runtime.close()
