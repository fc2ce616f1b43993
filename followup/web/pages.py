"""Rendering the dashboard's pages: Jinja templates from ``followup/web/templates``, each
extending ``base.html``, with what every page needs (the clinic, the caller, the CSRF token
for its forms, the nonce its inline scripts must carry) put in the context once, here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse, Response

from followup.web.deps import Caller, Clinic

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

templates = Jinja2Templates(directory=str(TEMPLATES))


def when(value: datetime | str | None, zone: str | None = None, seconds: bool = False) -> str:
    """A time as the pages show it: to the minute, in the clinic's zone (``zone``, else UTC),
    saying which (``2026-03-10 12:00 EDT``), so a page never mixes zones unsaid and never
    shows Python's ``2026-03-10 16:00:00+00:00``. The audit log keeps the seconds."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return str(value)
    if value.tzinfo is None:  # SQLite gives back naive UTC
        value = value.replace(tzinfo=UTC)
    try:
        tz = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):  # a zone the clinic mistyped: say UTC
        tz = UTC
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


templates.env.filters["when"] = when


def page(
    request: Request,
    name: str,
    *,
    clinic: Clinic | None = None,
    caller: Caller | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Page ``name`` for ``clinic`` (or for ``caller`` on pages above any one clinic)."""
    who = clinic.caller if clinic is not None else caller
    if who is None:
        who = getattr(request.state, "caller", None)
    return templates.TemplateResponse(
        request,
        name,
        {
            "clinic": clinic,
            "caller": who,
            "csrf": who.csrf if who is not None else None,
            "csp_nonce": getattr(request.state, "csp_nonce", ""),
            **context,
        },
        status_code=status_code,
    )


def csv_attachment(name: str, text: str) -> Response:
    """A CSV file the browser saves as ``name`` (UTF-8): an export for the clinic's records."""
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
