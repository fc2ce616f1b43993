"""The clinic's sessions, patients and texts over JSON: create or update a session by the
clinic's own id (the import's rules, through :mod:`followup.desk.sessions`), cancel it,
preview its plan; read and change a patient (by the clinic's patient id); list texts,
cancel one, send one now. Every route is scoped to ``{slug}``; an id of another clinic is
404 (the desk's NotFound)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from followup.desk import patients, sessions, upcoming
from followup.desk.sessions import InvalidFields, SessionInput
from followup.store.statuses import MessageStatus
from followup.web.api import responses
from followup.web.api.fields import Input, IsoTime
from followup.web.deps import DB, ApiClinic, Now, RowId

router = APIRouter(
    prefix="/api/v1/clinics/{slug}", tags=["sessions, patients, texts"], responses=responses.CLINIC
)
Id = Annotated[str, Path(min_length=1, max_length=64)]


class SessionIn(Input):
    patient_id: str = Field(min_length=1, max_length=64)
    phone: str = Field(min_length=1, max_length=40)
    first_name: str = Field(min_length=1, max_length=200)
    consent: bool
    completed_at: IsoTime
    locale: str | None = None
    timezone: str | None = None
    regions: list[str] = Field(default_factory=list, max_length=20)
    next_appointment_at: IsoTime | None = None
    status: Literal["completed", "cancelled"] = "completed"


class SessionOut(BaseModel):
    session_id: str
    patient_id: str
    completed_at: datetime
    status: str
    regions: list[str]
    next_appointment_at: datetime | None
    plan_pending: bool
    plan_error: str | None
    warnings: list[str] = []


class CancelledSession(SessionOut):
    texts_skipped: int


def _session(view: sessions.SessionView, warnings: tuple[str, ...] | list[str] = ()) -> SessionOut:
    return SessionOut(**{**view.__dict__, "regions": list(view.regions)}, warnings=list(warnings))


@router.put(
    "/sessions/{session_id}",
    response_model=SessionOut,
    responses={201: {"model": SessionOut}},
    summary="Create or update a session",
)
def put_session(
    session_id: Id, body: SessionIn, clinic: ApiClinic, db: DB, now: Now, response: Response
) -> SessionOut | JSONResponse:
    """Idempotent on the clinic's session id: 201 when created, 200 when updated; 422 with
    every bad field, and nothing written."""
    given = SessionInput(**{**body.model_dump(), "regions": tuple(body.regions)})
    try:
        created, view, warnings = sessions.put_session(
            db, clinic.id, session_id, given, now=now, actor=clinic.caller.actor
        )
    except InvalidFields as exc:
        db.rollback()
        detail = [
            {"loc": ["body", field], "msg": reason, "type": "value_error"}
            for field, reason in exc.problems
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    db.commit()
    response.status_code = 201 if created else 200
    return _session(view, warnings)


@router.get("/sessions/{session_id}", response_model=SessionOut, summary="One session")
def get_session(session_id: Id, clinic: ApiClinic, db: DB) -> SessionOut:
    return _session(sessions.get_session(db, clinic.id, session_id))


@router.post("/sessions/{session_id}/cancel", response_model=CancelledSession,
             summary="Cancel a session: its waiting texts are skipped")  # fmt: skip
def cancel_session(session_id: Id, clinic: ApiClinic, db: DB, now: Now) -> CancelledSession:
    view, skipped = sessions.cancel_session(
        db, clinic.id, session_id, now=now, actor=clinic.caller.actor
    )
    db.commit()
    return CancelledSession(
        **{**view.__dict__, "regions": list(view.regions)}, texts_skipped=skipped
    )


@router.get(
    "/sessions/{session_id}/plan",
    response_model=list[sessions.PlannedText],
    summary="What the session's texts are, or would be, and when (nothing written)",
)
def plan(session_id: Id, clinic: ApiClinic, db: DB, now: Now) -> list[sessions.PlannedText]:
    # the desk's own dataclass is the answer's schema: every field of it is for the caller
    return sessions.plan_preview(db, clinic.id, session_id, now=now)


class PatientOut(BaseModel):
    patient_id: str
    first_name: str
    phone: str
    locale: str | None
    timezone: str | None
    consent: bool
    consent_at: datetime | None
    consent_method: str | None
    opted_out: bool
    opted_out_at: datetime | None
    opted_out_how: str | None
    phone_unusable: bool
    phone_unusable_reason: str | None


class PatientPatch(Input):
    """The fields to change; a field left out stays as it is. ``opted_out`` may only be set
    true (the patient asked staff to stop); lifting an opt-out is the patient's (START)."""

    consent: bool | None = None
    opted_out: bool | None = None
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)


def _patient(view: patients.PatientView) -> PatientOut:
    return PatientOut(**{k: v for k, v in view.__dict__.items() if k in PatientOut.model_fields})


@router.get("/patients/{pid}", response_model=PatientOut, summary="A patient")
def get_patient(pid: Id, clinic: ApiClinic, db: DB, now: Now) -> PatientOut:
    """``pid`` is the clinic's own patient id (as in a session put)."""
    row = patients.patient_row_id(db, clinic.id, pid)
    view = patients.get_patient(db, clinic.id, row, now=now, actor=clinic.caller.actor)
    db.commit()  # the audit of the view
    return _patient(view)


@router.patch("/patients/{pid}", response_model=PatientOut, summary="Change a patient")
def patch_patient(pid: Id, body: PatientPatch, clinic: ApiClinic, db: DB, now: Now) -> PatientOut:
    """``pid`` is the clinic's own patient id (as in a session put)."""
    row = patients.patient_row_id(db, clinic.id, pid)
    given = body.model_dump(exclude_unset=True)
    clear = frozenset(k for k in ("locale", "timezone") if k in given and given[k] is None)
    view = patients.update_patient(
        db, clinic.id, row, now=now, actor=clinic.caller.actor, clear=clear,
        consent=given.get("consent"), opted_out=given.get("opted_out"),
        locale=given.get("locale"), timezone=given.get("timezone"),
    )  # fmt: skip
    db.commit()
    return _patient(view)


class TextOut(BaseModel):
    id: int
    session_id: str
    patient_id: str
    step: str
    template_key: str
    status: str
    reason: str | None
    due_at: datetime
    send_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    safety: bool


class TextsOut(BaseModel):
    items: list[TextOut]
    total: int


class SendNowOut(BaseModel):
    text: TextOut
    goes_at: datetime
    note: str


class CancelIn(Input):
    reason: str | None = Field(default=None, max_length=500)


def _text(t: upcoming.TextView) -> TextOut:
    return TextOut(**{k: v for k, v in t.__dict__.items() if k in TextOut.model_fields})


@router.get("/messages", response_model=TextsOut, summary="The clinic's texts, filtered")
def list_messages(
    clinic: ApiClinic,
    db: DB,
    status: MessageStatus | None = None,
    since: IsoTime | None = None,
    until: IsoTime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TextsOut:
    found = upcoming.list_texts(
        db, clinic.id, status=status, since=since, until=until, limit=limit, offset=offset
    )
    return TextsOut(items=[_text(t) for t in found.items], total=found.total)


@router.post("/messages/{message_id}/cancel", response_model=TextOut,
             summary="Cancel a waiting text (a safety text needs a reason)")  # fmt: skip
def cancel_message(
    message_id: RowId, clinic: ApiClinic, db: DB, now: Now, body: CancelIn | None = None
) -> TextOut:
    done = upcoming.cancel(
        db, clinic.id, message_id, now=now, actor=clinic.caller.actor,
        reason=body.reason if body else None,
    )  # fmt: skip
    db.commit()
    return _text(done)


@router.post("/messages/{message_id}/send-now", response_model=SendNowOut,
             summary="Make a waiting text due now; the send's rules still apply")  # fmt: skip
def send_now(message_id: RowId, clinic: ApiClinic, db: DB, now: Now) -> SendNowOut:
    done = upcoming.send_now(db, clinic.id, message_id, now=now, actor=clinic.caller.actor)
    db.commit()
    return SendNowOut(text=_text(done.text), goes_at=done.goes_at, note=done.note)
