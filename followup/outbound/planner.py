"""Planner: completed sessions -> outbox rows (the I/O around :mod:`followup.outbound.schedule`).

Each run takes the sessions marked ``plan_pending`` in batches. For every patient in a batch it
loads what the rules need (the patient, their clinic's plan and send window, their recent
sessions and outbox rows), asks :func:`followup.outbound.schedule.plan_patient` for the wanted
state, and writes only the differences, with one event per status change, in one transaction.

The statements are the store's: the reads and locks of patients, clinics and sessions in
:mod:`followup.store.planning`, the outbox rows read and written in
:mod:`followup.store.outbox.planning`. This module decides what to ask and what to write.

Concurrency. The patient is the unit of planning. On PostgreSQL a planner locks the patients
of a batch first, then their waiting sessions: two workers never plan the same patient, and
never wait on each other (:mod:`followup.store.planning` says why in that order). SQLite
serialises writers (``BEGIN IMMEDIATE``). A pending outbox row is only changed while it is
still in the state the planner read, so a text the dispatcher has just claimed is never
pulled back. A session re-imported or updated while it is being planned waits for the
planner's commit, then is pending again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from followup.outbound.careplan import CarePlan, plan_for
from followup.outbound.regions import split_regions
from followup.outbound.schedule import (
    Decision,
    ExistingMessage,
    PatientFacts,
    SessionFacts,
    plan_patient,
)
from followup.outbound.timing import SendWindow
from followup.staff.alerts import queue_alerts
from followup.store import flags
from followup.store.engine import database_unavailable
from followup.store.outbox import is_staff_text, planned_rows, texted_patients, write_plan
from followup.store.planning import (
    lock_patients,
    lock_waiting_sessions,
    mark_planned,
    mark_unplannable,
    sessions_to_plan,
    waiting_patients,
)
from followup.store.replies import clinic_by_id
from followup.store.statuses import FlagKind, MessageStatus, OutboxFlag

log = logging.getLogger(__name__)

#: sessions this far back (before the planning clock) can still have texts to plan or count
LOOKBACK = timedelta(days=30)
#: history that counts against the 7-day cap
CAP_HISTORY = timedelta(days=8)


@dataclass
class PlanReport:
    sessions: int = 0
    scheduled: int = 0
    skipped: int = 0
    changed: int = 0
    #: safety texts a limit held back: flagged, and staff alerted (once per text)
    held: int = 0
    #: sessions set aside with ``plan_error``: their data cannot be planned
    unplannable: int = 0

    def __iadd__(self, other: PlanReport) -> PlanReport:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=64)
def _window(start: int, end: int) -> SendWindow:
    return SendWindow(start, end)


@lru_cache(maxsize=1024)
def _regions(text: str) -> frozenset[str]:
    """``"neck;upper_back"`` -> {"neck", "upper_back"} (a clinic uses a handful of spellings;
    what they mean is the plan's region table's to say)."""
    return split_regions(text)


class _PlanCache:
    """Parsed care plans per clinic for the length of one run (plans are JSON on the row)."""

    def __init__(self) -> None:
        self._plans: dict[int, CarePlan] = {}

    def get(self, clinic_id: int, stored: dict | None) -> CarePlan:
        plan = self._plans.get(clinic_id)
        if plan is None:
            plan = self._plans[clinic_id] = plan_for(stored)
        return plan


def plan_pending(
    factory: sessionmaker[Session], now: datetime, batch_size: int = 2000
) -> PlanReport:
    """Plan every session waiting for it; returns what was done.

    One patient's bad data never stops the others. A patient whose facts the rules cannot
    read (a time zone no database knows, a care plan that no longer parses) has their
    waiting sessions set aside with the error (``plan_error``), in the batch's transaction.
    A batch whose writes fail (a row breaking a constraint) is planned again one patient at a
    time, and the patient whose own transaction fails is set aside the same way. Errors of
    the database itself (unreachable, locked, a deadlock) are not the data's fault: they end
    the run, and the next tick tries again with nothing set aside."""
    total = PlanReport()
    plans = _PlanCache()
    while True:
        try:
            with factory() as db, db.begin():
                report = _plan_batch(db, now, batch_size, plans)
        except Exception as exc:
            if database_unavailable(exc):
                raise
            log.exception("a planning batch failed; planning its patients one at a time")
            report = _plan_one_at_a_time(factory, now, batch_size, plans)
        if report is None:
            break
        total += report
    return total


def describe(exc: BaseException) -> str:
    """What ``plan_error`` says: the kind of error and its first line (SQL errors carry no
    values: the engine hides statement parameters)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"[:300]


def _plan_one_at_a_time(
    factory: sessionmaker[Session], now: datetime, batch_size: int, plans: _PlanCache
) -> PlanReport | None:
    """Plan the waiting patients of a failed batch each in its own transaction; set aside
    the sessions of each one whose transaction fails."""
    with factory() as db, db.begin():
        candidates = waiting_patients(db.connection(), batch_size)
    if not candidates:
        return None
    total, progressed = PlanReport(), False
    for patient_id in dict.fromkeys(candidates):
        try:
            with factory() as db, db.begin():
                report = _plan_batch(db, now, batch_size, plans, only=[patient_id])
        except Exception as exc:
            if database_unavailable(exc):
                raise
            with factory() as db, db.begin():
                conn = db.connection()
                pending = lock_waiting_sessions(conn, [patient_id])
                mark_unplannable(conn, pending, describe(exc))
            log.error(
                "patient %s: %d sessions set aside, cannot be planned: %s",
                patient_id, len(pending), describe(exc),
            )  # fmt: skip
            total.unplannable += len(pending)
            progressed = True
            continue
        if report is not None:
            total += report
            progressed = True
    # None when every candidate was another worker's: the run ends, as a full batch would
    return total if progressed else None


def _plan_batch(
    db: Session,
    now: datetime,
    batch_size: int,
    plans: _PlanCache,
    only: list[int] | None = None,
) -> PlanReport | None:
    # Core rows through the session's connection: plain column reads need none of the ORM's
    # result machinery, which would cost more than the queries themselves.
    conn = db.connection()
    candidates = only if only is not None else waiting_patients(conn, batch_size)
    if not candidates:
        return None
    # The patient is the unit of planning: the patients first, then their waiting sessions
    # (the lock order of followup.store.planning).
    patients = lock_patients(conn, candidates)
    if not patients:
        return None  # every candidate is being planned by another worker right now
    patient_ids = list(patients)
    pending = lock_waiting_sessions(conn, patient_ids)

    sessions_by_patient: dict[int, list[SessionFacts]] = defaultdict(list)
    pending_by_patient: dict[int, list[int]] = defaultdict(list)
    for s in sessions_to_plan(
        conn, patient_ids, completed_since=now - LOOKBACK, appointment_since=now - timedelta(days=1)
    ):
        if s.plan_pending:
            pending_by_patient[s.patient_id].append(s.id)
        sessions_by_patient[s.patient_id].append(
            SessionFacts(
                id=s.id,
                external_id=s.external_id,
                completed_at=s.completed_at,
                status=s.status,
                regions=_regions(s.regions),
                next_appointment_at=s.next_appointment_at,
            )
        )
    session_ids = [s.id for group in sessions_by_patient.values() for s in group]

    rows_by_patient: dict[int, list[Any]] = defaultdict(list)
    for row in planned_rows(conn, patient_ids, session_ids, now - CAP_HISTORY):
        # a staff text is no step of the plan, and an answer staff wrote must not use up
        # the room the caps leave for the plan's own texts
        if not is_staff_text(row.template_key):
            rows_by_patient[row.patient_id].append(row)
    texted = texted_patients(conn, patient_ids)

    report = PlanReport(sessions=len(pending))
    births: list[tuple[Decision, int, int, str]] = []
    moves: list[tuple[Any, Decision]] = []
    held: list[Decision] = []
    set_aside: set[int] = set()
    for patient_id in patient_ids:
        patient = patients[patient_id]
        rows = rows_by_patient[patient_id]
        try:
            decisions = _decide(
                patient, sessions_by_patient[patient_id], rows, plans, now,
                texted_before=patient_id in texted,
            )  # fmt: skip
        except Exception as exc:  # the rules cannot read this patient's facts
            waiting = pending_by_patient[patient_id]
            mark_unplannable(conn, waiting, describe(exc))
            set_aside.update(waiting)
            report.unplannable += len(waiting)
            log.error(
                "patient %s: %d sessions set aside, cannot be planned: %s",
                patient_id, len(waiting), describe(exc),
            )  # fmt: skip
            continue
        locale = patient.locale or patient.default_locale
        by_key = {(r.session_id, r.step): r for r in rows}
        for d in decisions:
            if d.held:
                held.append(d)
            if d.status == MessageStatus.SCHEDULED:
                report.scheduled += 1
            else:
                report.skipped += 1
            old = by_key.get((d.session_id, d.step))
            if old is None:
                births.append((d, patient.clinic_id, patient_id, locale))
            elif _changed(old, d):
                moves.append((old, d))
    pending = [sid for sid in pending if sid not in set_aside]

    report.changed = write_plan(conn, births, moves, at=now)
    report.held = flag_held(conn, held, now)
    mark_planned(conn, pending)
    log.debug("planned %d sessions", report.sessions)
    return report


def _decide(
    patient: Any,
    sessions: list[SessionFacts],
    rows: list[Any],
    plans: _PlanCache,
    now: datetime,
    *,
    texted_before: bool,
) -> list[Decision]:
    """The rules' decisions for one patient (pure but for the caches): raises when the
    patient's facts cannot be read (an unknown time zone, a care plan that fails to parse)."""
    facts = PatientFacts(
        tz=_zone(patient.timezone or patient.clinic_timezone),
        consent=patient.consent,
        opted_out=patient.opted_out_at is not None,
        texted_before=texted_before,
    )
    existing = [
        ExistingMessage(r.session_id, r.step, r.status, r.send_at, r.sent_at, r.reason)
        for r in rows
    ]
    window = _window(patient.send_window_start, patient.send_window_end)
    plan = plans.get(patient.clinic_id, patient.care_plan)
    return plan_patient(facts, sessions, existing, plan, window, now)


def flag_held(conn: Any, held: list[Decision], now: datetime) -> int:
    """A review flag and its alerts for each safety text a limit holds back, in the
    planner's transaction (the text was just written). Each text is flagged once, however
    often it is planned again (the flag is unique on its text). The flag is open at once;
    its alerts page staff when the text was due (a breathing check-in held until tomorrow
    morning pages tomorrow evening, when it should have gone). Returns how many were new."""
    new = 0
    clinics: dict[int, Any] = {}
    for d in held:
        opened = flags.flag_text(
            conn,
            kind=FlagKind.REVIEW,
            reason=f"{OutboxFlag.HELD_BACK}: {d.held}",
            now=now,
            session_id=d.session_id,
            step=d.step,
        )
        if opened is None:
            continue
        flag_id, clinic_id = opened
        if clinic_id not in clinics:
            clinics[clinic_id] = clinic_by_id(conn, clinic_id)
        queue_alerts(
            conn,
            flag_id=flag_id,
            flag_kind=FlagKind.REVIEW,
            clinic=clinics[clinic_id],
            now=max(now, d.due_at),
            page=True,
        )
        new += 1
    if new:
        log.warning("%d safety texts held back by quiet hours or windows: staff alerted", new)
    return new


def _changed(old: Any, d: Decision) -> bool:
    return (
        old.status != d.status
        or old.send_at != d.send_at
        or old.reason != d.reason
        or old.template_key != d.template
        or old.due_at != d.due_at
        or old.expires_at != d.expires_at
    )
