"""A real browser on the real server, for the dashboard's browser tests.

The browser is the system's chromium (Debian's package, ``/usr/bin/chromium``, or
``FOLLOWUP_CHROMIUM``) driven by Playwright; Playwright never downloads a browser of its own.
Without chromium (or without the playwright package) the tests are skipped and say why,
unless ``FOLLOWUP_REQUIRE_BROWSER=1`` (set by .ci/run): then they fail, so CI cannot pass by
testing nothing.

The server is uvicorn serving the app in a thread, on a localhost port the kernel chose: the
same server ``followup web`` runs (:mod:`followup.web.server`), so the browser meets the real
headers, cookies and static files.

Screenshots go to ``test-results/screenshots/<name>-<viewport>.png`` beside the checkout
(``FOLLOWUP_SCREENSHOTS`` names another folder). They are for people to look at in review.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: read once, on import, as the others below: the tests' ``env`` fixture clears FOLLOWUP_*
#: variables for each test
CHROMIUM = os.environ.get("FOLLOWUP_CHROMIUM") or "/usr/bin/chromium"
REQUIRED = os.environ.get("FOLLOWUP_REQUIRE_BROWSER") == "1"
#: the machine's network is closed: without these chromium waits on connections it tries to
#: make by itself (updates, sync, QUIC probes)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SCREENSHOTS = Path(
    os.environ.get("FOLLOWUP_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    path = CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)) and not shutil.which(path):
        return f"no chromium at {path} (apt-get install chromium, or set FOLLOWUP_CHROMIUM)"
    return None


def skip_without_browser() -> None:
    problem = missing_browser()
    if problem is None:
        return
    if REQUIRED:
        pytest.fail(f"browser required (FOLLOWUP_REQUIRE_BROWSER=1) but {problem}")
    pytest.skip(f"browser tests skipped: {problem}")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium for the tests of one module."""
    skip_without_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


def free_socket() -> socket.socket:
    """A listening socket on a localhost port of the kernel's choosing (no race for it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


@contextmanager
def serving(app: Any, sock: socket.socket) -> Iterator[str]:
    """Serve ``app`` on uvicorn in a thread for the block, as ``followup web`` serves it
    (its lifespan runs: the alert sender, the spool drain); yields the base URL."""
    import uvicorn

    config = uvicorn.Config(
        app, log_level="warning", access_log=False, server_header=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot of what ``page`` shows, named for the page and its viewport
    (``flags-phone.png``): one line per page in a test."""
    viewport = page.viewport_size or {}
    kind = next((k for k, v in VIEWPORTS.items() if v["width"] == viewport.get("width")), "other")
    path = screenshot_dir() / f"{name}-{kind}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
