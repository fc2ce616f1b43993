"""The wording pages, for a clinic's admins: every text with its default and the clinic's
own version, an editor that checks a text before saving it (by the rules of ``followup
templates check``), a preview that fills it with sample data, and revert to the default.
With JavaScript the preview follows the typing (``/static/wording.js``, through the API's
preview); without it the "Preview" button asks the server for the same."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from followup.desk import wording as desk
from followup.desk.errors import DeskError, InvalidFields
from followup.texts.catalogue import Catalogue
from followup.web.deps import DB, AdminClinic, Form, Now
from followup.web.pages import page

router = APIRouter(include_in_schema=False)


def catalogue_of(request: Request) -> Catalogue:
    """The catalogue the app sends from (loaded and checked at start)."""
    return request.app.state.followup.catalogue


@router.get("/clinics/{slug}/wording", response_class=HTMLResponse)
def wording_list(request: Request, clinic: AdminClinic, db: DB) -> HTMLResponse:
    entries = desk.entries(db, clinic.id, catalogue_of(request))
    done = request.query_params.get("done")
    return page(request, "wording.html", clinic=clinic, entries=entries, notice=done)


def _editor(request: Request, clinic, db, locale: str, key: str, **context) -> HTMLResponse:
    found = desk.entry(db, clinic.id, catalogue_of(request), key, locale)
    context.setdefault("draft", found.text)
    context.setdefault("preview", found.preview)
    return page(request, "wording_edit.html", clinic=clinic, entry=found,
                max_text=desk.MAX_TEXT, **context)  # fmt: skip


@router.get("/clinics/{slug}/wording/{locale}/{key}", response_class=HTMLResponse)
def wording_edit(request: Request, clinic: AdminClinic, locale: str, key: str, db: DB):
    return _editor(request, clinic, db, locale, key)


@router.post("/clinics/{slug}/wording/{locale}/{key}", response_model=None)
def wording_save(
    request: Request, clinic: AdminClinic, locale: str, key: str, form: Form, db: DB, now: Now
) -> RedirectResponse | HTMLResponse:
    """Save the text once it passes the check, or (the "Preview" button) show it filled in."""
    text = form.get("text")
    text = text if isinstance(text, str) else ""
    catalogue = catalogue_of(request)
    try:
        if form.get("action") == "preview":
            shown = desk.preview(db, clinic.id, catalogue, key, locale, text)
            return _editor(request, clinic, db, locale, key, draft=text, preview=shown)
        desk.save(db, clinic.id, catalogue, key, locale, text, now=now,
                  actor=clinic.caller.actor)  # fmt: skip
    except InvalidFields as exc:
        db.rollback()
        shown = desk.preview(db, clinic.id, catalogue, key, locale, text)
        return _editor(request, clinic, db, locale, key, draft=text, preview=shown,
                       refused=[reason for _, reason in exc.problems], status_code=422)  # fmt: skip
    except DeskError as exc:
        if exc.field != "text":
            raise
        db.rollback()
        return _editor(request, clinic, db, locale, key, draft=text, refused=[exc.reason],
                       status_code=422)  # fmt: skip
    db.commit()
    return RedirectResponse(
        f"/clinics/{clinic.slug}/wording?done=Saved+{locale}/{key}#{locale}-{key}",
        status_code=303,
    )


@router.post("/clinics/{slug}/wording/{locale}/{key}/revert", response_model=None)
def wording_revert(
    request: Request, clinic: AdminClinic, locale: str, key: str, form: Form, db: DB, now: Now
) -> RedirectResponse | HTMLResponse:
    try:
        desk.revert(db, clinic.id, catalogue_of(request), key, locale, now=now,
                    actor=clinic.caller.actor)  # fmt: skip
    except DeskError as exc:
        if exc.field != "text":
            raise
        return _editor(request, clinic, db, locale, key, refused=[exc.reason], status_code=409)
    db.commit()
    return RedirectResponse(
        f"/clinics/{clinic.slug}/wording?done=Reverted+{locale}/{key}#{locale}-{key}",
        status_code=303,
    )
