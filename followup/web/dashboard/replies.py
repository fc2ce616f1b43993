"""The replies pages: the inbox (what patients wrote, how it was read, what we and staff
answered), answering a patient with a text of staff's own, the list of patients no text goes
to, and the CSV exports of replies and flags.

The answer form works without JavaScript: "Check length" posts the text and the page shows
its segment count as the server counts it. With JavaScript (``/static/segments.js``) the count
follows the typing, from the same alphabet the server uses (rendered into the form's data
attributes from :mod:`followup.texts.segments`).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from followup.desk import exports, opt_outs, staff_texts
from followup.desk import replies as desk
from followup.desk.errors import DeskError, NotFound
from followup.texts.segments import GSM7_BASIC, GSM7_EXTENSION
from followup.web.deps import DB, Form, Now, PageClinic, RowId, Texts
from followup.web.pages import csv_attachment, page

router = APIRouter(include_in_schema=False)


@router.get("/clinics/{slug}/replies", response_class=HTMLResponse)
def inbox(
    request: Request, clinic: PageClinic, db: DB, kind: str = "", urgency: str = "",
    since: str = "", until: str = "", page_no: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    done: str = "",
) -> HTMLResponse:  # fmt: skip
    filters = {"kind": kind, "urgency": urgency, "since": since, "until": until}
    try:
        first, last = desk.parse_day("since", since), desk.parse_day("until", until)
        start, end = desk.day_range(clinic.timezone, first, last)
        found, error = desk.replies(db, clinic.id, kind=kind or None, urgency=urgency or None,
                                    since=start, until=end, page=max(1, page_no)), None  # fmt: skip
    except DeskError as exc:
        found, error = desk.ReplyPage((), 0, 1, desk.PER_PAGE), f"{exc.field}: {exc.reason}"
    query = urlencode({k: v for k, v in filters.items() if v})
    return page(request, "replies.html", clinic=clinic, found=found, error=error,
                filters=filters, query=query, kinds=desk.KINDS, urgencies=desk.URGENCIES,
                done=done)  # fmt: skip


def _answer_page(
    request: Request, clinic: PageClinic, db: DB, texts: Texts, patient_id: RowId, *,
    written: str = "", reply_id: str = "", error: str | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    form = staff_texts.preview(db, clinic.id, patient_id, written, catalogue=texts)
    return page(
        request, "answer.html", clinic=clinic, form=form, written=written, reply_id=reply_id,
        error=error, status_code=status_code, gsm_basic="".join(sorted(GSM7_BASIC)),
        gsm_extension="".join(sorted(GSM7_EXTENSION)), max_segments=staff_texts.MAX_SEGMENTS,
    )  # fmt: skip


@router.get("/clinics/{slug}/patients/{patient_id}/text", response_class=HTMLResponse)
def answer_form(
    request: Request, clinic: PageClinic, patient_id: RowId, db: DB, texts: Texts,
    reply: str = "",
) -> HTMLResponse:  # fmt: skip
    return _answer_page(request, clinic, db, texts, patient_id, reply_id=reply)


@router.post("/clinics/{slug}/patients/{patient_id}/text", response_model=None)
def answer(
    request: Request, clinic: PageClinic, patient_id: RowId, form: Form, db: DB, now: Now,
    texts: Texts,
) -> Response:  # fmt: skip
    written = form.get("body")
    written = written if isinstance(written, str) else ""
    reply_id = form.get("reply")
    reply_id = reply_id if isinstance(reply_id, str) and reply_id.isdigit() else ""
    if form.get("action") == "check":
        return _answer_page(request, clinic, db, texts, patient_id, written=written,
                            reply_id=reply_id)  # fmt: skip
    try:
        done = staff_texts.send_text(db, clinic.id, patient_id, written, catalogue=texts,
                                     now=now, actor=clinic.caller.actor)  # fmt: skip
    except NotFound:
        raise
    except DeskError as exc:
        db.rollback()
        return _answer_page(request, clinic, db, texts, patient_id, written=written,
                            reply_id=reply_id, error=exc.reason, status_code=422)  # fmt: skip
    db.commit()
    note = f"Text {done.message_id} written ({done.draft.segments} segment(s)): {done.note}."
    target = f"/clinics/{clinic.slug}/replies?{urlencode({'done': note})}"
    if reply_id:
        target += f"#reply-{reply_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/clinics/{slug}/opt-outs", response_class=HTMLResponse)
def opt_out_page(request: Request, clinic: PageClinic, db: DB) -> HTMLResponse:
    return page(request, "opt_outs.html", clinic=clinic, found=opt_outs.not_texted(db, clinic.id))


def _export_range(clinic: PageClinic, since: str, until: str):
    first, last = desk.parse_day("since", since), desk.parse_day("until", until)
    return desk.day_range(clinic.timezone, first, last)


@router.get("/clinics/{slug}/replies.csv", response_model=None)
def replies_csv(clinic: PageClinic, db: DB, now: Now, since: str = "", until: str = "") -> Response:
    start, end = _export_range(clinic, since, until)
    text = exports.replies_csv(db, clinic.id, since=start, until=end, now=now,
                               actor=clinic.caller.actor)  # fmt: skip
    db.commit()  # the audit of the export
    return csv_attachment(f"{clinic.slug}-replies.csv", text)


@router.get("/clinics/{slug}/flags.csv", response_model=None)
def flags_csv(clinic: PageClinic, db: DB, now: Now, since: str = "", until: str = "") -> Response:
    start, end = _export_range(clinic, since, until)
    text = exports.flags_csv(db, clinic.id, since=start, until=end, now=now,
                             actor=clinic.caller.actor)  # fmt: skip
    db.commit()
    return csv_attachment(f"{clinic.slug}-flags.csv", text)
