"""The flags pages: what staff must act on, emergencies on top, then what someone has in
hand, then what was closed lately; and the page every staff alert links to
(``/clinics/{slug}/flags/{flag_id}``). Acknowledge, assign and close are forms that
redirect back to the list; a flag someone else handled first answers 409 with what
happened to it. The list checks for new flags every 5 seconds (``/flags/live``, which does
not keep the login alive) and, without JavaScript, refreshes itself every 30 seconds."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from followup.desk import flags as desk
from followup.store.statuses import FlagStatus
from followup.web.deps import DB, Clinic, Form, Now, PageClinic, PollClinic, RowId
from followup.web.pages import page

router = APIRouter(include_in_schema=False)


#: what the list says after an action (``?did=``)
_DONE = {"ack": "acknowledged", "assign": "assigned", "close": "closed"}


def _notice(request: Request) -> str | None:
    did, which = request.query_params.get("did"), request.query_params.get("flag", "")
    if did in _DONE and which.isdigit():
        return f"Flag {which} {_DONE[did]}."
    return None


@router.get("/clinics/{slug}/flags", response_class=HTMLResponse)
def flags_page(request: Request, clinic: PageClinic, db: DB, now: Now) -> HTMLResponse:
    return page(
        request, "flags.html", clinic=clinic, notice=_notice(request),
        flags=desk.flags(db, clinic.id, now),
        in_hand=desk.flags(db, clinic.id, now, status=FlagStatus.ACKNOWLEDGED),
        closed=desk.flags(db, clinic.id, now, status=FlagStatus.CLOSED, limit=20),
        assignees=desk.assignees(db, clinic.id),
    )  # fmt: skip


@router.get("/clinics/{slug}/flags/live")
def flags_live(clinic: PollClinic, db: DB, now: Now) -> dict:
    """The open flags' ids: the page fetches itself again when one it does not show
    appears."""
    ids = [v.id for v in desk.flags(db, clinic.id, now)]
    return {"open": ids, "count": len(ids)}


@router.get("/clinics/{slug}/flags/{flag_id}", response_class=HTMLResponse)
def flag_page(
    request: Request, clinic: PageClinic, flag_id: RowId, db: DB, now: Now
) -> HTMLResponse:
    found = desk.flag(db, clinic.id, flag_id, now)
    by_status = {s: [found] if found.status == s else [] for s in FlagStatus}
    return page(
        request, "flags.html", clinic=clinic, single=True, flags=by_status[FlagStatus.OPEN],
        in_hand=by_status[FlagStatus.ACKNOWLEDGED], closed=by_status[FlagStatus.CLOSED],
        assignees=desk.assignees(db, clinic.id), history=desk.history(db, clinic.id, flag_id),
    )  # fmt: skip


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _done(clinic: Clinic, flag_id: int, did: str) -> RedirectResponse:
    to = f"/clinics/{clinic.slug}/flags?did={did}&flag={flag_id}"
    return RedirectResponse(to, status_code=303)


@router.post("/clinics/{slug}/flags/{flag_id}/ack")
def acknowledge(
    clinic: PageClinic, flag_id: RowId, form: Form, db: DB, now: Now
) -> RedirectResponse:
    desk.acknowledge(db, clinic.id, flag_id, note=_text(form, "note"), now=now,
                     actor=clinic.caller.actor)  # fmt: skip
    db.commit()
    return _done(clinic, flag_id, "ack")


@router.post("/clinics/{slug}/flags/{flag_id}/assign")
def assign(clinic: PageClinic, flag_id: RowId, form: Form, db: DB, now: Now) -> RedirectResponse:
    desk.assign(db, clinic.id, flag_id, to=_text(form, "assignee"), now=now,
                actor=clinic.caller.actor)  # fmt: skip
    db.commit()
    return _done(clinic, flag_id, "assign")


@router.post("/clinics/{slug}/flags/{flag_id}/close")
def close(clinic: PageClinic, flag_id: RowId, form: Form, db: DB, now: Now) -> RedirectResponse:
    desk.close(db, clinic.id, flag_id, note=_text(form, "note"), now=now,
               actor=clinic.caller.actor)  # fmt: skip
    db.commit()
    return _done(clinic, flag_id, "close")
