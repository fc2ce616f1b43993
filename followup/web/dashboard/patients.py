"""The dashboard's patient pages: find a patient, a patient's timeline with the soreness
chart (each view audited), and the upcoming texts with cancel and send-now forms. Forms
work without JavaScript; every POST carries the login's CSRF token (``Form``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from followup.desk import patients, timeline, upcoming
from followup.desk.errors import DeskError, NotFound
from followup.web.deps import DB, Form, Now, PageClinic, RowId
from followup.web.pages import page

router = APIRouter(include_in_schema=False)


@router.get("/clinics/{slug}/patients", response_class=HTMLResponse)
def search(request: Request, clinic: PageClinic, db: DB, q: str = "") -> HTMLResponse:
    try:
        found, error = patients.find_patients(db, clinic.id, q), None
    except DeskError as exc:
        found, error = [], exc.reason
    return page(request, "patients.html", clinic=clinic, q=q, found=found, error=error)


@router.get("/clinics/{slug}/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    request: Request, patient_id: RowId, clinic: PageClinic, db: DB, now: Now
) -> HTMLResponse:
    seen = timeline.patient_timeline(db, clinic.id, patient_id, now=now, actor=clinic.caller.actor)
    db.commit()  # the audit of the view
    return page(request, "patient.html", clinic=clinic, t=seen, chart=Markup(seen.chart.svg))


@router.get("/clinics/{slug}/upcoming", response_class=HTMLResponse)
def upcoming_page(
    request: Request, clinic: PageClinic, db: DB, now: Now, page_no: int = 1, done: str = ""
) -> HTMLResponse:
    found = upcoming.upcoming(db, clinic.id, now=now, page=max(1, page_no))
    return page(request, "upcoming.html", clinic=clinic, found=found, done=done)


def _back(clinic: PageClinic, note: str) -> RedirectResponse:
    from urllib.parse import quote

    return RedirectResponse(f"/clinics/{clinic.slug}/upcoming?done={quote(note)}", 303)


@router.post("/clinics/{slug}/upcoming/{message_id}/cancel", response_model=None)
def cancel(message_id: RowId, clinic: PageClinic, db: DB, now: Now, form: Form) -> RedirectResponse:
    reason = form.get("reason")
    try:
        upcoming.cancel(db, clinic.id, message_id, now=now, actor=clinic.caller.actor,
                        reason=reason if isinstance(reason, str) else None)  # fmt: skip
    except NotFound:
        raise
    except DeskError as exc:
        db.rollback()
        return _back(clinic, f"Not cancelled: {exc.reason}")
    db.commit()
    return _back(clinic, "Cancelled.")


@router.post("/clinics/{slug}/upcoming/{message_id}/send-now", response_model=None)
def send_now(
    message_id: RowId, clinic: PageClinic, db: DB, now: Now, form: Form
) -> RedirectResponse:
    try:
        done = upcoming.send_now(db, clinic.id, message_id, now=now, actor=clinic.caller.actor)
    except NotFound:
        raise
    except DeskError as exc:
        db.rollback()
        return _back(clinic, f"Not sent: {exc.reason}")
    db.commit()
    return _back(clinic, f"Send now: {done.note}")
