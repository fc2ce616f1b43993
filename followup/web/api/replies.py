"""The clinic's replies over JSON (the inbox: filtered, a page at a time), a text of staff's
own to a patient (through the outbox, as the dashboard's answer form), and the CSV exports
for a clinic's system with its key. The rules are :mod:`followup.desk.replies`,
:mod:`followup.desk.staff_texts` and :mod:`followup.desk.exports`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from followup.desk import exports, patients, staff_texts
from followup.desk import replies as desk
from followup.web.api import responses
from followup.web.api.fields import Input, IsoDate, IsoTime
from followup.web.deps import DB, ApiClinic, Now, Texts
from followup.web.pages import csv_attachment

router = APIRouter(prefix="/api/v1/clinics/{slug}", tags=["replies"], responses=responses.CLINIC)
Pid = Annotated[str, Path(min_length=1, max_length=64)]
Kind = Literal[tuple(desk.KINDS)]  # type: ignore[valid-type]
Urgency = Literal[desk.URGENCIES]  # type: ignore[valid-type]


class StaffAnswerOut(BaseModel):
    message_id: int
    body: str
    status: str
    reason: str | None
    send_at: datetime
    sent_at: datetime | None
    written_by: str | None


class ReplyFlagOut(BaseModel):
    id: int
    kind: str
    reason: str
    status: str


class ReplyOut(BaseModel):
    id: int
    received_at: datetime
    body: str = Field(description="what the patient wrote")
    kind: str
    urgency: str
    score: int | None
    worry: bool | None
    matched: list[str]
    answer_key: str | None = Field(description="the template we answered with at once")
    answer: str | None = Field(description="what we answered at once; null: nothing")
    patient_id: str | None = Field(description="the clinic's patient id; null: unknown number")
    first_name: str | None
    flags: list[ReplyFlagOut]
    staff_answers: list[StaffAnswerOut]


class RepliesOut(BaseModel):
    items: list[ReplyOut]
    total: int
    page: int
    per_page: int


class TextIn(Input):
    # empty by default, so a missing body is the desk's refusal (422 on "body") after the
    # patient is looked up: another clinic's patient is a 404 whatever the body
    body: str = Field(default="", max_length=staff_texts.MAX_INPUT)


class TextOut(BaseModel):
    message_id: int
    body: str = Field(description="the text as it goes, with the emergency line if added")
    emergency_line_added: bool
    encoding: str
    segments: int
    characters: int
    send_at: datetime
    note: str


def _reply(v: desk.ReplyView) -> ReplyOut:
    return ReplyOut(
        id=v.id, received_at=v.received_at, body=v.body, kind=v.kind, urgency=v.urgency,
        score=v.score, worry=v.worry, matched=list(v.matched), answer_key=v.answer_key,
        answer=v.answer, patient_id=v.external_id, first_name=v.first_name,
        flags=[ReplyFlagOut(**f.__dict__) for f in v.flags],
        staff_answers=[StaffAnswerOut(**a.__dict__) for a in v.staff_answers],
    )  # fmt: skip


@router.get("/replies", response_model=RepliesOut, summary="The clinic's replies, newest first")
def list_replies(
    clinic: ApiClinic,
    db: DB,
    kind: Kind | None = None,
    urgency: Urgency | None = None,
    since: IsoTime | None = None,
    until: IsoTime | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = desk.PER_PAGE,
) -> RepliesOut:
    """Each reply with what the patient wrote, how it was read, what we answered at once, the
    flags it raised and the staff texts written after it. ``since``/``until`` bound
    ``received_at`` (``until`` excluded)."""
    found = desk.replies(db, clinic.id, kind=kind, urgency=urgency, since=since, until=until,
                         page=page, per_page=per_page)  # fmt: skip
    return RepliesOut(items=[_reply(v) for v in found.items], total=found.total,
                      page=found.page, per_page=found.per_page)  # fmt: skip


@router.post(
    "/patients/{pid}/texts",
    response_model=TextOut,
    status_code=201,
    summary="Text a patient in staff's own words (through the outbox)",
)
def send_text(pid: Pid, body: TextIn, clinic: ApiClinic, db: DB, now: Now, texts: Texts) -> TextOut:
    """``pid`` is the clinic's own patient id. The text goes through the outbox within the
    clinic's sending hours (``send_at`` and ``note`` say when), with the emergency line
    unless it gives the emergency number. 422 (``loc`` ``["body", "patient"]`` or
    ``["body", "body"]``) when the patient opted out, gave no consent or has an unusable
    number, or the text is empty or longer than 3 segments; nothing is written then."""
    row = patients.patient_row_id(db, clinic.id, pid)
    done = staff_texts.send_text(db, clinic.id, row, body.body, catalogue=texts, now=now,
                                 actor=clinic.caller.actor)  # fmt: skip
    db.commit()
    d = done.draft
    return TextOut(message_id=done.message_id, body=d.body,
                   emergency_line_added=d.emergency_line_added, encoding=d.encoding,
                   segments=d.segments, characters=d.characters, send_at=done.send_at,
                   note=done.note)  # fmt: skip


CSV = {200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8"}}


@router.get("/exports/replies.csv", response_class=Response, responses=CSV,
            summary="The replies as CSV (days in the clinic's zone, both included)")  # fmt: skip
def replies_csv(
    clinic: ApiClinic, db: DB, now: Now, since: IsoDate | None = None, until: IsoDate | None = None
) -> Response:
    start, end = desk.day_range(clinic.timezone, since, until)
    text = exports.replies_csv(db, clinic.id, since=start, until=end, now=now,
                               actor=clinic.caller.actor)  # fmt: skip
    db.commit()
    return csv_attachment(f"{clinic.slug}-replies.csv", text)


@router.get("/exports/flags.csv", response_class=Response, responses=CSV,
            summary="The flags as CSV (days in the clinic's zone, both included)")  # fmt: skip
def flags_csv(
    clinic: ApiClinic, db: DB, now: Now, since: IsoDate | None = None, until: IsoDate | None = None
) -> Response:
    start, end = desk.day_range(clinic.timezone, since, until)
    text = exports.flags_csv(db, clinic.id, since=start, until=end, now=now,
                             actor=clinic.caller.actor)  # fmt: skip
    db.commit()
    return csv_attachment(f"{clinic.slug}-flags.csv", text)
