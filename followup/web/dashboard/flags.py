"""The flags pages: what staff must act on, emergencies on top, and the page every staff
alert links to (``/clinics/{slug}/flags/{flag_id}``). The open list keeps itself current
without a reload: ``static/flags-live.js`` asks ``/flags/live`` for the open flags' ids every
5 seconds and, when they change, fetches the list (``/flags/live/list``, the same page) and
swaps in what changed. Neither request keeps the login alive, so a page left open on a shared
computer still logs out. Without JavaScript the page refreshes itself every 30 seconds."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from followup.desk import flags as desk
from followup.desk.errors import DeskError, NotFound
from followup.store.statuses import FlagStatus
from followup.web.deps import DB, Clinic, Form, Now, PageClinic, PollClinic
from followup.web.pages import page

router = APIRouter(include_in_schema=False)


def _open_flags_page(request: Request, clinic: Clinic, db: Session, now: datetime) -> HTMLResponse:
    open_flags = desk.flags(db, clinic.id, now)
    done = desk.flags(db, clinic.id, now, status=FlagStatus.ACKNOWLEDGED, limit=20)
    return page(request, "flags.html", clinic=clinic, flags=open_flags, done=done,
                notice=request.query_params.get("done"))  # fmt: skip


@router.get("/clinics/{slug}/flags", response_class=HTMLResponse)
def flags_page(request: Request, clinic: PageClinic, db: DB, now: Now) -> HTMLResponse:
    return _open_flags_page(request, clinic, db, now)


@router.get("/clinics/{slug}/flags/live")
def flags_live(clinic: PollClinic, db: DB, now: Now) -> dict:
    """The open flags' ids: the page fetches its list again when they change."""
    ids = [v.id for v in desk.flags(db, clinic.id, now)]
    return {"open": ids, "count": len(ids)}


@router.get("/clinics/{slug}/flags/live/list", response_class=HTMLResponse)
def flags_live_list(request: Request, clinic: PollClinic, db: DB, now: Now) -> HTMLResponse:
    """The open flags page as the page's own script fetches it: the same HTML, but a poll
    (401 once logged out, and it does not keep the login alive)."""
    return _open_flags_page(request, clinic, db, now)


@router.get("/clinics/{slug}/flags/{flag_id}", response_class=HTMLResponse)
def flag_page(request: Request, clinic: PageClinic, flag_id: int, db: DB, now: Now) -> HTMLResponse:
    for status in (FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED):
        found = desk.flags(db, clinic.id, now, status=status, flag_id=flag_id)
        if found:
            return page(request, "flags.html", clinic=clinic, flags=found if status == "open"
                        else [], done=[] if status == "open" else found, single=True)  # fmt: skip
    raise NotFound("flag")


@router.post("/clinics/{slug}/flags/{flag_id}/ack", response_model=None)
def acknowledge(
    request: Request, clinic: PageClinic, flag_id: int, form: Form, db: DB, now: Now
) -> RedirectResponse | HTMLResponse:
    note = form.get("note")
    try:
        desk.acknowledge(db, clinic.id, flag_id, note=note if isinstance(note, str) else "",
                         now=now, actor=clinic.caller.actor)  # fmt: skip
    except NotFound:
        raise
    except DeskError as exc:
        return page(request, "error.html", clinic=clinic, status_code=409,
                    title="Already acknowledged", message=exc.reason)  # fmt: skip
    db.commit()
    return RedirectResponse(f"/clinics/{clinic.slug}/flags?done={flag_id}", status_code=303)
