"""The audit log as a clinic's admins read it: one clinic's events, newest first, filtered
by who, what and when, a page at a time (``audit_events``, written by
:func:`followup.store.accounts.add_audit`). Every query names the clinic: an org account's
clinics are read one at a time, never mixed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from followup.store.models import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    clinic_id: int
    actor: str | None = None
    action: str | None = None
    #: from this instant (inclusive) to ``until`` (exclusive)
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        found = [AuditEvent.clinic_id == self.clinic_id]
        if self.actor:
            found.append(AuditEvent.actor == self.actor)
        if self.action:
            found.append(AuditEvent.action == self.action)
        if self.since is not None:
            found.append(AuditEvent.at >= self.since)
        if self.until is not None:
            found.append(AuditEvent.at < self.until)
        return found


def events(db: Session, given: AuditFilter, *, offset: int, limit: int) -> list[AuditEvent]:
    """The events ``given`` picks, newest first, ``limit`` from ``offset``."""
    q = (
        select(AuditEvent)
        .where(*given.where())
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(db.scalars(q))


def count(db: Session, given: AuditFilter) -> int:
    return db.scalar(select(func.count()).select_from(AuditEvent).where(*given.where())) or 0


def choices(db: Session, clinic_id: int) -> tuple[list[str], list[str]]:
    """The actors and the actions the clinic's log holds, for the filters' lists."""

    def distinct(column: Any) -> list[str]:
        q = select(column).where(AuditEvent.clinic_id == clinic_id).distinct().order_by(column)
        return list(db.scalars(q))

    return distinct(AuditEvent.actor), distinct(AuditEvent.action)
