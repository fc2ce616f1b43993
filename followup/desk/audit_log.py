"""The audit log of one clinic for its admins: who did what, when, to what, newest first,
filtered by actor, action and a range of the clinic's local dates, a page at a time.

Reading the log is not itself audited. What it shows is already a record of who did what;
it holds no patient's words or number (subjects are ids such as ``patient:12``), and only a
clinic's admins may read it. An entry per read would mostly fill the log with its own
reads, burying the views and changes it is kept for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from followup.desk.errors import DeskError
from followup.desk.metrics import local_midnight
from followup.store import audit_log
from followup.store.audit_log import AuditFilter

PER_PAGE = 50
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    #: ``user:<email>``, ``key:<prefix>`` or ``cli``
    actor: str
    action: str
    #: what it was done to: ``patient:12``, ``flag:7``, ``message:40``
    subject: str | None
    #: staff words (a note), never a patient's
    detail: str | None


@dataclass(frozen=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    total: int
    page: int
    per_page: int
    #: every actor and action of the clinic's log, for the filters
    actors: tuple[str, ...]
    actions: tuple[str, ...]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def audit_log_page(
    db: Session, clinic_id: int, *, timezone: str, actor: str | None = None,
    action: str | None = None, date_from: date | None = None, date_to: date | None = None,
    page: int = 1, per_page: int = PER_PAGE,
) -> AuditPage:  # fmt: skip
    """The clinic's entries picked by the filters (each optional; ``date_from`` and
    ``date_to`` are the clinic's local dates, both included), newest first. DeskError for a
    page below 1, a page size out of 1..200, or a range that ends before it starts."""
    if page < 1:
        raise DeskError("page", "pages start at 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise DeskError("per_page", f"between 1 and {MAX_PER_PAGE}")
    if date_from and date_to and date_to < date_from:
        raise DeskError("date_to", "the range ends before it starts")
    tz = ZoneInfo(timezone)
    given = AuditFilter(
        clinic_id, actor=actor or None, action=action or None,
        since=local_midnight(date_from, tz) if date_from else None,
        until=local_midnight(date_to + timedelta(days=1), tz) if date_to else None,
    )  # fmt: skip
    rows = audit_log.events(db, given, offset=(page - 1) * per_page, limit=per_page)
    actors, actions = audit_log.choices(db, clinic_id)
    return AuditPage(
        tuple(AuditEntry(e.at, e.actor, e.action, e.subject, e.detail) for e in rows),
        audit_log.count(db, given), page, per_page, tuple(actors), tuple(actions),
    )  # fmt: skip
