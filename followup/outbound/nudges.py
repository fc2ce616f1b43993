"""The nudges, each tick: a sent safety check-in gets its one nudge, and a nudge nobody
answered (or that could not go) reaches staff. The I/O around :mod:`followup.outbound.nudging`.

One transaction per run:

1. Safety check-ins sent lately whose session has no nudge yet get one
   (:func:`~followup.store.outbox.nudges.add_nudges`): scheduled after the plan's wait, in
   the clinic's sending hours, or skipped with the reason. The dispatcher sends it like any
   text; right before, it is skipped if the patient replied meanwhile (the claim checks),
   and a reply skips a waiting nudge at once (:mod:`followup.inbound.receive`).
2. Nudges that went out without an answer for the plan's ``answer_within``, or that could
   not go, get a review flag and its staff alerts (:func:`~followup.store.flags.flag_text`,
   unique on the text: one flag however many workers look).

Idempotent under concurrent workers and restarts: the nudge row is unique per session and
the flag per nudge, both written ``ON CONFLICT DO NOTHING`` in the same transaction as the
decision that needed them, and only the writer that inserted a flag queues its alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from followup.outbound.careplan import DEFAULT_PLAN, CarePlan, CarePlanError, plan_for
from followup.outbound.nudging import SentCheckin, SentNudge, nudge_for, staff_reason
from followup.outbound.timing import SendWindow
from followup.staff.alerts import queue_alerts
from followup.store import flags
from followup.store.outbox.nudges import (
    add_nudges,
    clinic_plans,
    nudges_to_follow,
    sent_checkins,
)
from followup.store.replies import clinic_by_id
from followup.store.statuses import FlagKind

log = logging.getLogger(__name__)

#: how far back a run looks: a worker down for longer than this leaves those check-ins be
LOOKBACK = timedelta(days=3)


@dataclass
class NudgeReport:
    scheduled: int = 0
    skipped: int = 0
    #: nudges that reached staff (flag and alerts)
    escalated: int = 0


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class _Plans:
    """Every clinic's plan for one run: the default one unless the clinic stored its own."""

    def __init__(self, stored: dict[int, Any]) -> None:
        self.plans: dict[int, CarePlan] = {}
        for clinic_id, data in stored.items():
            try:
                self.plans[clinic_id] = plan_for(data)
            except CarePlanError as exc:  # the planner reports it; nudge by the default
                log.error("clinic %s: stored care plan does not read: %s", clinic_id, exc)

    def get(self, clinic_id: int) -> CarePlan:
        return self.plans.get(clinic_id, DEFAULT_PLAN)

    def templates(self) -> list[str]:
        """The templates of the safety texts any plan nudges."""
        found: set[str] = set()
        for plan in (DEFAULT_PLAN, *self.plans.values()):
            step = plan.nudged
            if step is not None:
                found.add(step.template if step.safety == "always" else step.regions_template)
        return sorted(found)


def run_nudges(factory: sessionmaker[Session], now: datetime) -> NudgeReport:
    """Write the nudges sent check-ins need and tell staff of unanswered ones (see above)."""
    report = NudgeReport()
    with factory() as db, db.begin():
        conn = db.connection()
        plans = _Plans(clinic_plans(conn))
        births = []
        for row in sent_checkins(conn, plans.templates(), since=now - LOOKBACK, now=now):
            plan = plans.get(row.clinic_id)
            tz = _zone(row.timezone or row.clinic_timezone)
            checkin = SentCheckin(
                step=row.step,
                template=row.template_key,
                sent_at=row.sent_at,
                opted_out=row.opted_out_at is not None,
                consent=bool(row.consent),
                answered=bool(row.answered),
                superseded=bool(row.superseded),
            )
            window = SendWindow(row.send_window_start, row.send_window_end)
            d = nudge_for(checkin, plan, tz, window, now)
            if d is None:
                continue
            if d.status == "scheduled":
                report.scheduled += 1
            else:
                report.skipped += 1
            births.append(
                {
                    "clinic_id": row.clinic_id,
                    "session_id": row.session_id,
                    "patient_id": row.patient_id,
                    "template_key": d.template,
                    "locale": row.locale,
                    "priority": row.priority,
                    "due_at": d.due_at,
                    "send_at": d.send_at,
                    "expires_at": d.expires_at,
                    "status": d.status,
                    "reason": d.reason,
                }
            )
        add_nudges(conn, births, now=now)
        report.escalated = _follow_up(conn, plans, now)
    return report


def _follow_up(conn: Any, plans: _Plans, now: datetime) -> int:
    """A flag and alerts for each nudge that calls for staff; how many were new."""
    new = 0
    clinics: dict[int, Any] = {}
    for row in nudges_to_follow(conn, since=now - LOOKBACK):
        nudge = SentNudge(row.status, row.reason, row.sent_at, bool(row.answered))
        reason = staff_reason(nudge, plans.get(row.clinic_id), now)
        if reason is None:
            continue
        opened = flags.flag_text(
            conn, kind=FlagKind.REVIEW, reason=reason, now=now, message_id=row.id
        )
        if opened is None:
            continue  # another worker flagged it first
        flag_id, clinic_id = opened
        if clinic_id not in clinics:
            clinics[clinic_id] = clinic_by_id(conn, clinic_id)
        queue_alerts(
            conn,
            flag_id=flag_id,
            flag_kind=FlagKind.REVIEW,
            clinic=clinics[clinic_id],
            now=now,
            page=True,
        )
        new += 1
    if new:
        log.warning("%d unanswered safety check-ins: staff alerted", new)
    return new
