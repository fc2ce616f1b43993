"""Who the API thinks the caller is: the first call a clinic's integration makes."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from followup.store import clinics as clinic_rows
from followup.web.api import responses
from followup.web.deps import DB, ApiCaller

router = APIRouter(prefix="/api/v1", tags=["caller"], responses={401: responses.CLINIC[401]})


class ClinicOut(BaseModel):
    slug: str
    name: str
    timezone: str


class MeOut(BaseModel):
    actor: str
    role: str | None
    clinics: list[ClinicOut]


@router.get("/me", response_model=MeOut, summary="The caller and the clinics it may use")
def me(db: DB, caller: ApiCaller) -> MeOut:
    found = clinic_rows.by_ids(db, caller.clinic_ids)
    return MeOut(
        actor=caller.actor, role=caller.role,
        clinics=[ClinicOut(slug=c.slug, name=c.name, timezone=c.timezone) for c in found],
    )  # fmt: skip
