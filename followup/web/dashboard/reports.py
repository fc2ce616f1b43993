"""The clinic's reports page (delivery rate, reply rate, flags by kind, time to acknowledge:
four charts drawn on the server, each with its definition and a table of the same numbers)
and the audit log page, for admins only. Both are GET forms that work without JavaScript."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from followup.desk import audit_log, metrics, report_charts
from followup.desk.errors import DeskError
from followup.web.deps import DB, AdminClinic, Now, PageClinic
from followup.web.pages import page

router = APIRouter(include_in_schema=False)


@router.get("/clinics/{slug}/reports", response_class=HTMLResponse)
def reports_page(
    request: Request, clinic: PageClinic, db: DB, now: Now, days: int = metrics.DEFAULT_DAYS,
    by: str = "",
) -> HTMLResponse:  # fmt: skip
    found = metrics.clinic_metrics(
        db, clinic.id, timezone=clinic.timezone, now=now, days=days, by=by or None
    )
    charts = {k: (Markup(d.svg), d.summary) for k, d in report_charts.all_charts(found).items()}
    return page(request, "reports.html", clinic=clinic, m=found, charts=charts,
                definitions=metrics.DEFINITIONS, kinds=metrics.KIND_NAMES,
                periods=metrics.PERIODS)  # fmt: skip


def _date(field: str, value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DeskError(field, "a date such as 2026-03-01") from None


@router.get("/clinics/{slug}/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, clinic: AdminClinic, db: DB, actor: str = "", action: str = "",
    date_from: str = "", date_to: str = "", page_no: int = 1,
) -> HTMLResponse:  # fmt: skip
    """Not audited itself: see :mod:`followup.desk.audit_log`."""
    asked = {"actor": actor, "action": action, "date_from": date_from, "date_to": date_to}
    try:
        found, error = audit_log.audit_log_page(
            db, clinic.id, timezone=clinic.timezone, actor=actor, action=action,
            date_from=_date("date_from", date_from), date_to=_date("date_to", date_to),
            page=page_no,
        ), None  # fmt: skip
    except DeskError as exc:
        found, error = None, f"{exc.field}: {exc.reason}"
    return page(request, "audit.html", clinic=clinic, found=found, error=error, asked=asked,
                status_code=422 if error else 200)  # fmt: skip
