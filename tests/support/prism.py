"""Prism, the mock server for Twilio's published OpenAPI spec, for tests.

:func:`running_prism` starts one Prism (static mode: Twilio's own examples as answers) through
the vendored ``prism.sh`` and stops it at the end. A test module turns it into a session fixture
(defined there, not imported: ruff reads an imported fixture used as an argument as a
redefinition)::

    @pytest.fixture(scope="session")
    def prism_url() -> Iterator[str]:
        with running_prism() as url:
            yield url

Prism validates every request against the spec and answers an invalid one with HTTP 422, so a
test that gets a 2xx knows the SDK's request is one Twilio documents.

Where ``prism.sh`` lives: ``FOLLOWUP_TWILIO_MOCK_DIR``, else ``tests/support/twilio`` (vendored).
Without it, or without node (or npm while Prism is not installed yet), the tests are skipped,
unless ``FOLLOWUP_REQUIRE_PRISM=1`` (CI), which fails them instead.

:class:`PrismClient` is the gateway's own HTTP client plus two things for tests: a
``Prefer: code=NNN`` header (Prism then answers with that error) and a record of every call.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

from followup.gateways.twilio import ApiHttpClient

#: the project's own copy of Twilio's spec and the launcher (tests/support/twilio/README.md)
VENDORED = Path(__file__).resolve().parent / "twilio"
START_TIMEOUT = 120.0
INSTALL_TIMEOUT = 600.0


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("FOLLOWUP_REQUIRE_PRISM") == "1":
        pytest.fail(f"Prism required (FOLLOWUP_REQUIRE_PRISM=1) but unavailable: {reason}")
    pytest.skip(f"Prism unavailable: {reason} (FOLLOWUP_REQUIRE_PRISM=1 makes this an error)")


def mock_dir() -> Path:
    configured = os.environ.get("FOLLOWUP_TWILIO_MOCK_DIR")
    return Path(configured) if configured else VENDORED


def _prism_installed() -> bool:
    home = Path(os.environ.get("PRISM_HOME") or Path.home() / ".cache" / "followup-prism")
    return os.access(home / "node_modules" / ".bin" / "prism", os.X_OK)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(script: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, timeout=timeout
    )


@contextlib.contextmanager
def running_prism() -> Iterator[str]:
    """Start Prism (static mode) on a free port, yield ``http://127.0.0.1:PORT``, stop it on
    exit, also when the body raises. Skips (or fails, see the module doc) when unavailable."""
    script = mock_dir() / "prism.sh"
    if not script.is_file():
        _unavailable(f"{script} not found (set FOLLOWUP_TWILIO_MOCK_DIR)")
    missing = [tool for tool in ("node", "curl") if shutil.which(tool) is None]
    if not _prism_installed() and shutil.which("npm") is None:
        missing.append("npm")
    if missing:
        _unavailable(f"{', '.join(missing)} not found (apt-get install -y nodejs npm curl)")
    if not _prism_installed():
        done = _run(script, "install", timeout=INSTALL_TIMEOUT)
        if done.returncode != 0:
            _unavailable(f"prism.sh install failed: {done.stderr.strip()[-500:]}")

    port, pid, problems = None, None, []
    for _ in range(3):  # another process may take the free port before Prism binds it
        candidate = _free_port()
        done = _run(script, "start", str(candidate), timeout=START_TIMEOUT)
        found = re.search(r"READY port=(\d+) pid=(\d+)", done.stdout)
        if done.returncode == 0 and found:
            port, pid = candidate, int(found.group(2))
            break
        problems.append(f"port {candidate}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    if port is None:
        pytest.fail("Prism did not start:\n" + "\n".join(problems))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stopped = _run(script, "stop", str(port), timeout=30)
        if stopped.returncode != 0 and pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # the Prism started here, nothing else


@dataclass(frozen=True)
class Call:
    """One request as the SDK made it, and Prism's answer."""

    method: str
    path: str
    query: str
    params: dict[str, Any] | None
    data: dict[str, Any] | None
    headers: dict[str, str]
    status: int
    text: str


class PrismClient(ApiHttpClient):
    """:class:`ApiHttpClient` pointed at Prism; ``prefer`` (an HTTP status) makes every answer
    that error; :attr:`calls` records each request and its status."""

    def __init__(
        self, base_url: str, *, prefer: int | None = None, timeout: float = 10.0, pool_size: int = 8
    ) -> None:
        super().__init__(timeout=timeout, pool_size=pool_size, base_url=base_url)
        self.prefer = prefer
        self.calls: list[Call] = []  # list.append is atomic: safe from the send threads

    def request(self, method: str, url: str, *args, **kwargs):
        headers = dict(kwargs.get("headers") or {})
        if self.prefer is not None:
            headers["Prefer"] = f"code={self.prefer}"
        kwargs["headers"] = headers
        response = super().request(method, url, *args, **kwargs)
        self.calls.append(
            Call(
                method=method.upper(),
                path=urlsplit(url).path,
                query=urlsplit(url).query,
                params=kwargs.get("params"),
                data=kwargs.get("data"),
                headers=headers,
                status=response.status_code,
                text=response.text,
            )
        )
        return response

    def statuses(self) -> list[int]:
        return [call.status for call in self.calls]
