"""Escalation: flags nobody has acknowledged in time reach somebody.

Two rules (clinical.md section 3: a reply nobody reads must not be lost, an urgent one not
left waiting):

- **A review flag** (free text, a photo, a negated red flag) waits in the inbox. When nobody
  has acknowledged it after the clinic's ``review_alert_minutes`` *of open time* (default
  120), its staff are alerted (on-call phone and Apprise URLs): counted in opening hours
  only, so a flag raised on Saturday night pages on Monday morning, the delay after opening.
- **An emergency or clinic-today flag** is alerted at once; when nobody has acknowledged it
  after ``emergency_second_minutes`` (15) or ``clinic_today_second_minutes`` (60) of
  wall-clock time, it goes to the clinic's ``second_contact`` as well. These do not wait
  for opening hours: the on-call phone exists for the hours the clinic is closed.

Each flag escalates once: the flag row is marked in the transaction that queues the
alerts, guarded by "not yet marked" (:mod:`followup.store.escalations`), so restarts and
concurrent workers never page twice. A clinic without destinations is not marked: its
review flags page as soon as it gets one. The alerts go out through the alert sender like
any other, most urgent first.

:func:`review_due_at` and :func:`second_contact_due_at` are the pure decisions;
:func:`escalate_due` applies them (the worker calls it every tick).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from followup.hours import HoursError, WeekHours, from_data, open_deadline
from followup.store import alerts, escalations
from followup.store.clinics import alert_destinations, contact_channel
from followup.store.statuses import AlertPurpose, FlagKind

log = logging.getLogger(__name__)


@dataclass
class EscalationReport:
    """What one :func:`escalate_due` did."""

    overdue: int = 0
    second_contact: int = 0
    alerts: int = 0


def review_due_at(
    raised_at: datetime, minutes: int, hours: WeekHours, tz: ZoneInfo
) -> datetime | None:
    """When a review flag raised at ``raised_at`` has waited ``minutes`` of the clinic's
    open time (None for a clinic that is never open). Pure."""
    return open_deadline(raised_at, timedelta(minutes=minutes), hours, tz)


def second_contact_due_at(
    kind: str, raised_at: datetime, *, emergency_minutes: int, clinic_today_minutes: int
) -> datetime | None:
    """When an unacknowledged flag of ``kind`` goes to the second contact (None for kinds
    that never do). Wall-clock minutes. Pure."""
    if kind == FlagKind.EMERGENCY:
        return raised_at + timedelta(minutes=emergency_minutes)
    if kind == FlagKind.CLINIC_TODAY:
        return raised_at + timedelta(minutes=clinic_today_minutes)
    return None


def _hours(row) -> WeekHours:
    try:
        return from_data(row.opening_hours)
    except HoursError as exc:  # written past the CLI: say so and fall back to the default
        log.warning(
            "clinic %s: stored opening hours unusable (%s); using the default", row.clinic_id, exc
        )
        return from_data(None)


def escalate_due(factory: sessionmaker[Session], now: datetime) -> EscalationReport:
    """Queue the escalations due at ``now`` (see the module docstring), in one
    transaction; returns counts. The alerts are delivered by the alert sender."""
    report = EscalationReport()
    with factory() as db, db.begin():
        for row in escalations.review_candidates(db, raised_before=now):
            targets = alert_destinations(row.oncall_phone, row.alert_urls)
            if not targets:
                continue  # nobody to page yet: it pages once the clinic has a destination
            due = review_due_at(
                row.created_at, row.review_alert_minutes, _hours(row), ZoneInfo(row.timezone)
            )
            if due is None or due > now:
                continue
            if escalations.mark_review_alerted(db, row.id, now=now):
                report.overdue += 1
                report.alerts += alerts.queue_pending(
                    db,
                    flag_id=row.id,
                    clinic_id=row.clinic_id,
                    destinations=targets,
                    now=now,
                    purpose=AlertPurpose.OVERDUE,
                )
        for row in escalations.urgent_candidates(db, raised_before=now):
            due = second_contact_due_at(
                row.kind,
                row.created_at,
                emergency_minutes=row.emergency_second_minutes,
                clinic_today_minutes=row.clinic_today_second_minutes,
            )
            contact = (row.second_contact or "").strip()
            if due is None or due > now or not contact:
                continue
            if escalations.mark_second_contact(db, row.id, now=now):
                report.second_contact += 1
                report.alerts += alerts.queue_pending(
                    db,
                    flag_id=row.id,
                    clinic_id=row.clinic_id,
                    destinations=[(contact_channel(contact), contact)],
                    now=now,
                    purpose=AlertPurpose.SECOND_CONTACT,
                )
    return report
