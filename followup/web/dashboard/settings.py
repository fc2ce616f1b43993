"""The clinic's settings page, for its admins: sending window, opening hours, where staff
alerts go, escalation delays, the second contact, the emergency number and the retention
period. One form; a bad field re-renders it with the reason beside that field, and nothing
is saved."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from followup.desk import settings as desk
from followup.desk.errors import InvalidFields
from followup.web.dashboard.wording import catalogue_of
from followup.web.deps import DB, AdminClinic, Form, Now
from followup.web.pages import page

router = APIRouter(include_in_schema=False)


def _form(request: Request, clinic, values: desk.ClinicSettings, **context) -> HTMLResponse:
    return page(request, "settings.html", clinic=clinic, values=values, days=desk.DAYS, **context)


@router.get("/clinics/{slug}/settings", response_class=HTMLResponse)
def settings_page(request: Request, clinic: AdminClinic, db: DB) -> HTMLResponse:
    saved = request.query_params.get("saved")
    return _form(request, clinic, desk.current(db, clinic.id),
                 notice=f"Settings saved ({saved})." if saved else None,
                 warnings=desk.warnings(db, clinic.id, catalogue_of(request)))  # fmt: skip


@router.post("/clinics/{slug}/settings", response_model=None)
def save_settings(
    request: Request, clinic: AdminClinic, form: Form, db: DB, now: Now
) -> RedirectResponse | HTMLResponse:
    given = desk.ClinicSettings.from_form(form)
    try:
        changed = desk.save(db, clinic.id, given, now=now, actor=clinic.caller.actor)
    except InvalidFields as exc:
        db.rollback()
        errors: dict[str, str] = {}
        for field, reason in exc.problems:
            errors[field] = f"{errors[field]}; {reason}" if field in errors else reason
        return _form(request, clinic, given, errors=errors, status_code=422)
    db.commit()
    saved = urlencode({"saved": ", ".join(changed) or "nothing changed"})
    return RedirectResponse(f"/clinics/{clinic.slug}/settings?{saved}", status_code=303)
