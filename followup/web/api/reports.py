"""The clinic's report figures and its audit log over JSON: the same numbers as the reports
page, with their definitions (for staff and the clinic's keys), and the audit log for the
clinic's admins (a login with the admin or org role; a key has no role and gets 403)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from followup.desk import audit_log, metrics
from followup.web.api import responses
from followup.web.api.fields import IsoDate
from followup.web.deps import DB, ApiAdminClinic, ApiClinic, Now

router = APIRouter(
    prefix="/api/v1/clinics/{slug}", tags=["reports, audit"], responses=responses.CLINIC
)


class MetricsOut(BaseModel):
    days: int
    by: str
    timezone: str
    start: datetime
    end: datetime
    delivery: list[metrics.Delivery]
    replies: list[metrics.Replies]
    flags: list[metrics.FlagCounts]
    acknowledgement: list[metrics.Acknowledgement]
    delivery_total: metrics.Delivery
    replies_total: metrics.Replies
    #: what each figure counts, as the reports page says it
    definitions: dict[str, str]


@router.get("/metrics", response_model=MetricsOut, summary="The clinic's report figures")
def clinic_metrics(
    clinic: ApiClinic, db: DB, now: Now,
    days: Annotated[int, Query(description="the last 7, 30 or 90 days",
                               json_schema_extra={"enum": list(metrics.PERIODS)})] = 30,
    by: Annotated[Literal["day", "week"] | None, Query(description="default: day up to "
                  "30 days, week for 90")] = None,
) -> MetricsOut:  # fmt: skip
    """Delivery rate, reply rate, flags by kind and time to acknowledge, per local day or
    week of the clinic; ``definitions`` says what each counts."""
    found = metrics.clinic_metrics(db, clinic.id, timezone=clinic.timezone, now=now, days=days,
                                   by=by)  # fmt: skip
    return MetricsOut(**found.__dict__, definitions=metrics.DEFINITIONS)


class AuditPageOut(BaseModel):
    entries: list[audit_log.AuditEntry]
    total: int
    page: int
    per_page: int
    pages: int


@router.get("/audit", response_model=AuditPageOut, summary="The clinic's audit log (admins)")
def clinic_audit(
    clinic: ApiAdminClinic, db: DB, actor: str | None = None, action: str | None = None,
    date_from: IsoDate | None = None, date_to: IsoDate | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=audit_log.MAX_PER_PAGE)] = audit_log.PER_PAGE,
) -> AuditPageOut:  # fmt: skip
    """Newest first; ``date_from`` and ``date_to`` are the clinic's local dates, both
    included. Reading the log is not itself audited."""
    found = audit_log.audit_log_page(
        db, clinic.id, timezone=clinic.timezone, actor=actor, action=action,
        date_from=date_from, date_to=date_to, page=page, per_page=per_page,
    )  # fmt: skip
    return AuditPageOut(entries=list(found.entries), total=found.total, page=found.page,
                        per_page=found.per_page, pages=found.pages)  # fmt: skip
