"""The care plan page, for a clinic's admins: the plan in force (the default when the
clinic has none), its download, and the upload of a new one (a file or pasted text),
refused with the parser's message when it is not a valid plan."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile

from followup.desk import careplan as desk
from followup.desk.errors import DeskError
from followup.web.deps import DB, AdminClinic, Form, Now
from followup.web.pages import page

router = APIRouter(include_in_schema=False)


def _page(request: Request, clinic, db, **context) -> HTMLResponse:
    return page(request, "careplan.html", clinic=clinic, plan=desk.current(db, clinic.id),
                max_kb=desk.MAX_PLAN_BYTES // 1000, **context)  # fmt: skip


@router.get("/clinics/{slug}/careplan", response_class=HTMLResponse)
def careplan_page(request: Request, clinic: AdminClinic, db: DB) -> HTMLResponse:
    done = {"saved": "The new plan is stored.", "reset": "The default plan is back."}
    return _page(request, clinic, db, notice=done.get(request.query_params.get("done", "")))


@router.get("/clinics/{slug}/careplan/download")
def careplan_download(clinic: AdminClinic, db: DB) -> Response:
    """The plan as a file ``followup clinics set-plan`` and this page's upload read back."""
    return Response(desk.current(db, clinic.id).text, media_type="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="{clinic.slug}-care-plan.json"'})  # fmt: skip


@router.post("/clinics/{slug}/careplan", response_model=None)
def careplan_upload(
    request: Request, clinic: AdminClinic, form: Form, db: DB, now: Now
) -> RedirectResponse | HTMLResponse:
    file, pasted = form.get("plan_file"), form.get("plan_text")
    filename = None
    raw = b""
    if isinstance(file, UploadFile) and file.filename:
        # read from its spooled file here: the route is sync, so that the request's database
        # session is begun and committed on one thread
        raw, filename = file.file.read(desk.MAX_PLAN_BYTES + 1), file.filename
    elif isinstance(pasted, str):
        raw = pasted.encode("utf-8")
    try:
        desk.upload(db, clinic.id, raw, filename=filename, now=now, actor=clinic.caller.actor,
                    catalogue=request.app.state.followup.catalogue)  # fmt: skip
    except DeskError as exc:
        db.rollback()
        text = pasted if isinstance(pasted, str) else ""
        return _page(request, clinic, db, error=exc.reason, pasted=text, status_code=422)
    db.commit()
    return RedirectResponse(f"/clinics/{clinic.slug}/careplan?done=saved", status_code=303)


@router.post("/clinics/{slug}/careplan/reset", response_model=None)
def careplan_reset(clinic: AdminClinic, form: Form, db: DB, now: Now) -> RedirectResponse:
    desk.reset(db, clinic.id, now=now, actor=clinic.caller.actor)
    db.commit()
    return RedirectResponse(f"/clinics/{clinic.slug}/careplan?done=reset", status_code=303)
