"""The clinic's flags over JSON: list them (open ones most urgent first, as on the
dashboard), read one with its history, acknowledge, assign and close. The same desk
actions as the pages, so both are audited alike and disagree on nothing. Someone else
acting first answers 409 with what happened to the flag."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from followup.desk import flags as desk
from followup.desk.flags import MAX_NOTE, FlagView
from followup.store.statuses import FlagStatus
from followup.web.api import responses
from followup.web.api.fields import Input
from followup.web.deps import DB, ApiClinic, Now, RowId

router = APIRouter(prefix="/api/v1/clinics/{slug}", tags=["flags"], responses=responses.CLINIC)

_CONFLICT = responses.CONFLICT


class FlagOut(BaseModel):
    id: int
    kind: str
    status: str
    reason: str
    created_at: datetime
    #: how long since it was raised, at the time of the answer
    age_seconds: int
    #: the clinic's own patient id (None for a reply from a number no patient has)
    patient_id: str | None
    first_name: str | None
    #: what the patient wrote, when a reply raised it
    reply: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    assigned_to: str | None
    assigned_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None


class FlagsOut(BaseModel):
    flags: list[FlagOut]


class FlagStepOut(BaseModel):
    at: datetime
    who: str
    action: str
    note: str | None


class FlagDetailOut(FlagOut):
    history: list[FlagStepOut]


class NoteIn(Input):
    note: str = Field(default="", max_length=MAX_NOTE)


class AssignIn(Input):
    #: a staff login of this clinic; null or "" gives the flag to nobody
    assignee: str | None = Field(default=None, max_length=254)


def _out(view: FlagView) -> FlagOut:
    return FlagOut(
        id=view.id, kind=view.kind, status=view.status, reason=view.reason,
        created_at=view.created_at, age_seconds=int(view.age.total_seconds()),
        patient_id=view.external_id, first_name=view.first_name, reply=view.reply,
        acknowledged_by=view.acknowledged_by, acknowledged_at=view.acknowledged_at,
        assigned_to=view.assigned_to, assigned_at=view.assigned_at,
        closed_by=view.closed_by, closed_at=view.closed_at,
    )  # fmt: skip


def _detail(db: DB, clinic_id: int, flag_id: int, now: datetime) -> FlagDetailOut:
    view = desk.flag(db, clinic_id, flag_id, now)
    steps = [FlagStepOut(**s.__dict__) for s in desk.history(db, clinic_id, flag_id)]
    return FlagDetailOut(**_out(view).model_dump(), history=steps)


@router.get("/flags", response_model=FlagsOut, summary="The clinic's flags")
def list_flags(
    clinic: ApiClinic, db: DB, now: Now,
    status: Annotated[FlagStatus, Query()] = FlagStatus.OPEN,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> FlagsOut:  # fmt: skip
    """Open and acknowledged flags come most urgent first (emergencies, then clinic-today,
    call-backs, reviews; oldest first within a kind) and all of them unless ``limit`` is
    given; closed flags newest first, 100 unless ``limit`` says otherwise."""
    if status == FlagStatus.CLOSED and limit is None:
        limit = 100
    return FlagsOut(flags=[_out(v) for v in desk.flags(db, clinic.id, now, status=status,
                                                        limit=limit)])  # fmt: skip


@router.get("/flags/{flag_id}", response_model=FlagDetailOut, summary="One flag and its history")
def get_flag(flag_id: RowId, clinic: ApiClinic, db: DB, now: Now) -> FlagDetailOut:
    return _detail(db, clinic.id, flag_id, now)


@router.post("/flags/{flag_id}/ack", response_model=FlagDetailOut, responses=_CONFLICT,
             summary="Acknowledge a flag")  # fmt: skip
def acknowledge(flag_id: RowId, body: NoteIn, clinic: ApiClinic, db: DB, now: Now) -> FlagDetailOut:
    """Someone has it in hand: its escalation stops; it stays listed until closed."""
    desk.acknowledge(db, clinic.id, flag_id, note=body.note, now=now, actor=clinic.caller.actor)
    db.commit()
    return _detail(db, clinic.id, flag_id, now)


@router.post("/flags/{flag_id}/assign", response_model=FlagDetailOut, responses=_CONFLICT,
             summary="Give a flag to a member of staff")  # fmt: skip
def assign(flag_id: RowId, body: AssignIn, clinic: ApiClinic, db: DB, now: Now) -> FlagDetailOut:
    """Does not acknowledge it: an assigned open flag keeps escalating."""
    desk.assign(db, clinic.id, flag_id, to=body.assignee, now=now, actor=clinic.caller.actor)
    db.commit()
    return _detail(db, clinic.id, flag_id, now)


@router.post("/flags/{flag_id}/close", response_model=FlagDetailOut, responses=_CONFLICT,
             summary="Close a flag that was dealt with")  # fmt: skip
def close(flag_id: RowId, body: NoteIn, clinic: ApiClinic, db: DB, now: Now) -> FlagDetailOut:
    """A flag nobody acknowledged needs a note (422 without one)."""
    desk.close(db, clinic.id, flag_id, note=body.note, now=now, actor=clinic.caller.actor)
    db.commit()
    return _detail(db, clinic.id, flag_id, now)
