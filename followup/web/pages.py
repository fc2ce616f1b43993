"""Rendering the dashboard's pages: Jinja templates from ``followup/web/templates``, each
extending ``base.html``, with what every page needs (the clinic, the caller, the CSRF token
for its forms, the nonce its inline scripts must carry) put in the context once, here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse, Response

from followup.web.deps import Caller, Clinic

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

templates = Jinja2Templates(directory=str(TEMPLATES))


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
