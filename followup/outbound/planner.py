"""Planner: completed sessions -> outbox rows (the I/O around :mod:`followup.outbound.schedule`).

Each run takes the sessions marked ``plan_pending`` in batches. For every patient in a batch it
loads what the rules need (the patient, their clinic's plan and send window, their recent
sessions and outbox rows), asks :func:`followup.outbound.schedule.plan_patient` for the wanted
state, and writes only the differences, with one event per status change, in one transaction.

Concurrency. The patient is the unit of planning. On PostgreSQL a planner locks the patients
of a batch first (``FOR UPDATE SKIP LOCKED``, in id order), then their waiting sessions: two
workers never plan the same patient, and never wait on each other (locking sessions first
deadlocked: a planner's outbox insert checks its foreign key against a session another planner
had locked, while that one waited for the patient). SQLite serialises writers
(``BEGIN IMMEDIATE``). A pending outbox row is only changed while it is still ``scheduled``,
so a text the dispatcher has just claimed is never pulled back. A session re-imported or
updated while it is being planned waits for the planner's commit, then is pending again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from followup.outbound.careplan import CarePlan, plan_for
from followup.outbound.schedule import (
    Decision,
    ExistingMessage,
    PatientFacts,
    SessionFacts,
    plan_patient,
)
from followup.outbound.timing import SendWindow
from followup.store.engine import bulk_insert
from followup.store.models import Clinic, MessageEvent, OutboundMessage, Patient, TreatmentSession

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

    def __iadd__(self, other: PlanReport) -> PlanReport:
        for name in ("sessions", "scheduled", "skipped", "changed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=64)
def _window(start: int, end: int) -> SendWindow:
    return SendWindow(start, end)


@lru_cache(maxsize=1024)
def _regions(text: str) -> frozenset[str]:
    """``"neck;upper_back"`` -> {"neck", "upper_back"} (a clinic uses a handful of spellings)."""
    return frozenset(r.strip().lower() for r in (text or "").split(";") if r.strip())


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
    """Plan every session waiting for it; returns what was done."""
    total = PlanReport()
    plans = _PlanCache()
    while True:
        with factory() as db, db.begin():
            report = _plan_batch(db, now, batch_size, plans)
        if report is None:
            break
        total += report
    return total


def _plan_batch(
    db: Session, now: datetime, batch_size: int, plans: _PlanCache
) -> PlanReport | None:
    is_pg = db.bind.dialect.name == "postgresql"
    # Core rows through the session's connection: plain column reads need none of the ORM's
    # result machinery, which would cost more than the queries themselves.
    conn = db.connection()
    # 1. Patients with sessions waiting (no lock: only candidates).
    candidates = conn.scalars(
        select(TreatmentSession.patient_id)
        .where(TreatmentSession.plan_pending.is_(True))
        .order_by(TreatmentSession.id)
        .limit(batch_size)
    ).all()
    if not candidates:
        return None

    # 2. The patients this planner takes: the unit of planning, locked first (in id order,
    # skipping any another planner holds). Plain rows rather than ORM objects: this runs for
    # every session a clinic ever sends.
    pq = (
        select(
            Patient.id,
            Patient.timezone,
            Patient.locale,
            Patient.consent,
            Patient.opted_out_at,
            Clinic.id.label("clinic_id"),
            Clinic.timezone.label("clinic_timezone"),
            Clinic.default_locale,
            Clinic.send_window_start,
            Clinic.send_window_end,
            Clinic.care_plan,
        )
        .join(Clinic, Clinic.id == Patient.clinic_id)
        .where(Patient.id.in_(sorted(set(candidates))))
        .order_by(Patient.id)
    )
    if is_pg:
        pq = pq.with_for_update(of=Patient.__table__, skip_locked=True)
    patients = {p.id: p for p in conn.execute(pq).all()}
    if not patients:
        return None  # every candidate is being planned by another worker right now
    patient_ids = list(patients)

    # 3. Their waiting sessions, locked after the patients (always in this order, so two
    # planners cannot wait on each other) against a clinic system updating them meanwhile.
    sq = (
        select(TreatmentSession.id)
        .where(
            TreatmentSession.patient_id.in_(patient_ids), TreatmentSession.plan_pending.is_(True)
        )
        .order_by(TreatmentSession.id)
    )
    if is_pg:
        sq = sq.with_for_update()
    pending = conn.scalars(sq).all()

    sessions_by_patient: dict[int, list[SessionFacts]] = defaultdict(list)
    for s in conn.execute(
        select(
            TreatmentSession.id,
            TreatmentSession.patient_id,
            TreatmentSession.external_id,
            TreatmentSession.completed_at,
            TreatmentSession.status,
            TreatmentSession.regions,
            TreatmentSession.next_appointment_at,
        ).where(
            TreatmentSession.patient_id.in_(patient_ids),
            or_(
                TreatmentSession.plan_pending.is_(True),
                TreatmentSession.completed_at >= now - LOOKBACK,
                TreatmentSession.next_appointment_at >= now - timedelta(days=1),
            ),
        )
    ):
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
    cols = (
        OutboundMessage.id,
        OutboundMessage.patient_id,
        OutboundMessage.session_id,
        OutboundMessage.step,
        OutboundMessage.status,
        OutboundMessage.send_at,
        OutboundMessage.sent_at,
        OutboundMessage.reason,
        OutboundMessage.template_key,
        OutboundMessage.due_at,
        OutboundMessage.expires_at,
        OutboundMessage.priority,
    )
    for row in conn.execute(
        select(*cols).where(
            OutboundMessage.patient_id.in_(patient_ids),
            or_(
                OutboundMessage.session_id.in_(session_ids),
                OutboundMessage.send_at >= now - CAP_HISTORY,
                OutboundMessage.sent_at >= now - CAP_HISTORY,
            ),
        )
    ):
        rows_by_patient[row.patient_id].append(row)

    texted = set(
        conn.scalars(
            select(OutboundMessage.patient_id)
            .where(
                OutboundMessage.patient_id.in_(patient_ids),
                OutboundMessage.status.in_(("sending", "sent", "delivered", "undelivered")),
            )
            .distinct()
        )
    )

    report = PlanReport(sessions=len(pending))
    inserts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for patient_id in patient_ids:
        patient = patients.get(patient_id)
        if patient is None:
            continue
        tz = _zone(patient.timezone or patient.clinic_timezone)
        facts = PatientFacts(
            tz=tz,
            consent=patient.consent,
            opted_out=patient.opted_out_at is not None,
            texted_before=patient_id in texted,
        )
        sessions = sessions_by_patient[patient_id]
        rows = rows_by_patient[patient_id]
        existing = [
            ExistingMessage(r.session_id, r.step, r.status, r.send_at, r.sent_at, r.reason)
            for r in rows
        ]
        window = _window(patient.send_window_start, patient.send_window_end)
        plan = plans.get(patient.clinic_id, patient.care_plan)
        decisions = plan_patient(facts, sessions, existing, plan, window, now)
        locale = patient.locale or patient.default_locale
        by_key = {(r.session_id, r.step): r for r in rows}
        for d in decisions:
            if d.status == "scheduled":
                report.scheduled += 1
            else:
                report.skipped += 1
            old = by_key.get((d.session_id, d.step))
            if old is None:
                inserts.append(_new_row(d, patient.clinic_id, patient_id, locale, now))
            elif _changed(old, d) and _apply_update(db, old, d, now, events):
                report.changed += 1

    # A new row carries its own birth record (status, reason, created_at); events record the
    # changes after it.
    bulk_insert(conn, OutboundMessage.__table__, inserts)
    bulk_insert(conn, MessageEvent.__table__, events)

    # Nobody can have changed these rows since we read them: PostgreSQL holds their row locks
    # (FOR UPDATE above) and SQLite the database write lock until this transaction commits. A
    # re-import waits for the commit, then sets the flag again.
    db.execute(
        update(TreatmentSession)
        .where(TreatmentSession.id.in_(pending))
        # keep updated_at: clearing the flag is not a change of the session
        .values(plan_pending=False, updated_at=TreatmentSession.updated_at)
        .execution_options(synchronize_session=False)
    )
    log.debug("planned %d sessions", report.sessions)
    return report


def _new_row(d: Decision, clinic_id: int, patient_id: int, locale: str, now: datetime) -> dict:
    return {
        "clinic_id": clinic_id,
        "session_id": d.session_id,
        "patient_id": patient_id,
        "step": d.step,
        "template_key": d.template,
        "locale": locale,
        "priority": d.priority,
        "due_at": d.due_at,
        "send_at": d.send_at,
        "expires_at": d.expires_at,
        "status": d.status,
        "reason": d.reason,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _changed(old: Any, d: Decision) -> bool:
    return (
        old.status != d.status
        or old.send_at != d.send_at
        or old.reason != d.reason
        or old.template_key != d.template
        or old.due_at != d.due_at
        or old.expires_at != d.expires_at
    )


def _apply_update(db: Session, old: Any, d: Decision, now: datetime, events: list[dict]) -> bool:
    """Move a row to its new planned state, only if it is still in the state we read."""
    result = db.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == old.id, OutboundMessage.status == old.status)
        .values(
            status=d.status,
            send_at=d.send_at,
            due_at=d.due_at,
            expires_at=d.expires_at,
            reason=d.reason,
            template_key=d.template,
            priority=d.priority,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False  # claimed by a dispatcher meanwhile: it is no longer ours to move
    if old.status != d.status:
        events.append(
            {
                "message_id": old.id,
                "from_status": old.status,
                "to_status": d.status,
                "at": now,
                "reason": d.reason or "re-planned",
                "actor": "planner",
            }
        )
    elif old.send_at != d.send_at:
        events.append(
            {
                "message_id": old.id,
                "from_status": old.status,
                "to_status": d.status,
                "at": now,
                "reason": f"moved to {d.send_at.isoformat()}",
                "actor": "planner",
            }
        )
    return True
