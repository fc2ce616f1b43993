"""Sessions by the clinic's own session id, for the clinic's system (the API): create or
update one, cancel one, and preview its plan.

A session put here goes through the CSV import's own row checks
(:class:`~followup.intake.csv_rows.RowParser`) and its writer
(:class:`~followup.intake.writer.RowWriter`), the ones FHIR uses too, so the three ways in
keep one set of rules: age limits, phone types, names, consent, a session keeping its
patient. A bad field is refused with every problem, by field, and nothing is written.

The plan preview runs the planner's pure rules (:func:`followup.outbound.schedule.plan_patient`)
on the patient's facts as stored, writing nothing: what would be sent when, and what not and
why, as the next planning run would decide it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from followup.access import audit
from followup.desk.errors import DeskError, InvalidFields, NotFound
from followup.intake.csv_rows import OPTIONAL, REQUIRED, Reject, RowParser
from followup.intake.writer import RowWriter
from followup.outbound.careplan import CarePlanError, plan_for
from followup.outbound.regions import split_regions
from followup.outbound.schedule import ExistingMessage, PatientFacts, SessionFacts, plan_patient
from followup.outbound.timing import SendWindow
from followup.store import patient_records, session_records
from followup.store.clinics import sender_numbers
from followup.store.statuses import MessageStatus, SessionStatus

#: how consent given through the API is recorded
CONSENT_METHOD = "api"
#: sessions this far back are weighed with the previewed one (the planner's look-back)
LOOKBACK = timedelta(days=30)
_FIELD = re.compile(r"^([a-z_]+): (.*)$", re.DOTALL)


@dataclass(frozen=True)
class SessionInput:
    """A session and its patient as the clinic's system sends them."""

    patient_id: str
    phone: str
    first_name: str
    consent: bool
    completed_at: datetime
    locale: str | None = None
    timezone: str | None = None
    regions: tuple[str, ...] = ()
    next_appointment_at: datetime | None = None
    status: str = SessionStatus.COMPLETED


@dataclass(frozen=True)
class SessionView:
    session_id: str
    patient_id: str
    completed_at: datetime
    status: str
    regions: tuple[str, ...]
    next_appointment_at: datetime | None
    plan_pending: bool
    plan_error: str | None


@dataclass(frozen=True)
class PlannedText:
    """One step of a session's plan: when it goes (or went), or why not."""

    step: str
    template_key: str
    status: str
    send_at: datetime
    due_at: datetime | None
    reason: str | None
    #: True when this is what the next planning run would decide; False for history
    preview: bool


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise DeskError("completed_at", "needs a UTC offset, e.g. 2025-03-14T16:30:00-04:00")
    return value.isoformat()


def _lookup(facts: Any):
    def lookup(slug: str):
        if slug != facts.slug:
            return None
        return facts.id, facts.country, facts.timezone, facts.care_plan, (
            facts.phone, facts.from_number,
        )  # fmt: skip

    return lookup


def _problems(message: str) -> list[tuple[str, str]]:
    found = []
    for part in message.split("; "):
        m = _FIELD.match(part)
        if m:
            found.append((m.group(1), m.group(2)))
        elif found:
            found[-1] = (found[-1][0], f"{found[-1][1]}; {part}")
        else:
            found.append(("body", part))
    return found or [("body", message)]


def _view(session: Any, patient: Any) -> SessionView:
    return SessionView(
        session.external_id, patient.external_id, session.completed_at, session.status,
        tuple(sorted(split_regions(session.regions or ""))), session.next_appointment_at,
        bool(session.plan_pending), session.plan_error,
    )  # fmt: skip


def put_session(
    db: Session,
    clinic_id: int,
    session_id: str,
    given: SessionInput,
    *,
    now: datetime,
    actor: str,
    senders: tuple[str | None, ...] = (),
) -> tuple[bool, SessionView, list[str]]:
    """Create or update the clinic's session ``session_id`` with its patient; returns
    (created, the session, warnings). Idempotent: the same body again is an update that
    changes nothing. InvalidFields names every bad field; nothing is written then."""
    facts = session_records.clinic_facts(db, clinic_id)
    if facts is None:
        raise NotFound("clinic")
    problems: list[tuple[str, str]] = []
    if given.timezone is not None:
        try:
            ZoneInfo(given.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(("timezone", "not a time zone name such as 'America/New_York'"))
    values = {
        "clinic": facts.slug,
        "session_id": session_id,
        "patient_id": given.patient_id,
        "first_name": given.first_name,
        "phone": given.phone,
        "consent": "yes" if given.consent else "no",
        "completed_at": _iso(given.completed_at),
        "locale": given.locale or "",
        "regions": ";".join(given.regions),
        "next_appointment_at": _iso(given.next_appointment_at) if given.next_appointment_at else "",
        "status": given.status,
    }
    columns = {name: i for i, name in enumerate(REQUIRED + OPTIONAL)}
    parse = RowParser(_lookup(facts), columns, now, (*senders, *sender_numbers(db)))
    try:
        row = parse([values[name] for name in columns], 1)
    except Reject as exc:
        problems.extend(_problems(str(exc)))
        raise InvalidFields(problems) from None
    if problems:
        raise InvalidFields(problems)
    done = RowWriter(None, now, CONSENT_METHOD).write_in(db, [row], all_or_nothing=True)
    if done.refused:
        raise InvalidFields([("patient_id", done.refused[0].reason)])
    found = session_records.session_of_clinic(db, clinic_id, session_id)
    assert found is not None
    session, patient = found
    if given.timezone is not None and given.timezone != patient.timezone:
        patient_records.set_fields(
            db, clinic_id, patient.id, now, consent_method=CONSENT_METHOD,
            timezone=given.timezone,
        )  # fmt: skip
        patient_records.replan_patient(db, clinic_id, patient.id)
    created = bool(done.created)
    audit.record(
        db, actor=actor, action="session.create" if created else "session.update", now=now,
        clinic_id=clinic_id, subject=f"session:{session.id}",
    )  # fmt: skip
    db.flush()
    db.expire_all()
    found = session_records.session_of_clinic(db, clinic_id, session_id)
    assert found is not None
    warnings = list(row.warnings) + [w.reason for w in done.warnings]
    return created, _view(*found), warnings


def get_session(db: Session, clinic_id: int, session_id: str) -> SessionView:
    found = session_records.session_of_clinic(db, clinic_id, session_id)
    if found is None:
        raise NotFound("session")
    return _view(*found)


def cancel_session(
    db: Session, clinic_id: int, session_id: str, *, now: datetime, actor: str
) -> tuple[SessionView, int]:
    """Cancel the clinic's session: its waiting texts are skipped at once ("session
    cancelled", so putting it back as completed revives those still in their window).
    Returns the session and how many texts were skipped. Audited (``session.cancel``)."""
    found = session_records.session_of_clinic(db, clinic_id, session_id)
    if found is None:
        raise NotFound("session")
    session, _patient = found
    skipped = session_records.cancel(
        db, clinic_id, session.id, now=now, reason=f"session cancelled: by {actor}", actor=actor
    )
    audit.record(
        db, actor=actor, action="session.cancel", now=now, clinic_id=clinic_id,
        subject=f"session:{session.id}", detail=f"{skipped} waiting texts skipped",
    )  # fmt: skip
    db.flush()
    db.expire_all()
    return get_session(db, clinic_id, session_id), skipped


def plan_preview(
    db: Session, clinic_id: int, session_id: str, *, now: datetime
) -> list[PlannedText]:
    """The session's texts: those gone (history) as they are, and every other step as the
    planner would decide it now. Writes nothing."""
    found = session_records.session_of_clinic(db, clinic_id, session_id)
    if found is None:
        raise NotFound("session")
    session, patient = found
    facts = session_records.clinic_facts(db, clinic_id)
    assert facts is not None
    try:
        plan = plan_for(facts.care_plan)
    except CarePlanError as exc:
        raise DeskError("care_plan", f"the clinic's care plan cannot be read: {exc}") from None
    try:
        tz = ZoneInfo(patient.timezone or facts.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DeskError("timezone", "the patient's time zone is not known") from None
    texts = session_records.texts_of_patient(db, clinic_id, patient.id)
    others = session_records.recent_sessions_of_patient(db, clinic_id, patient.id, now - LOOKBACK)
    sessions = {s.id: s for s in others} | {session.id: session}
    decisions = plan_patient(
        PatientFacts(
            tz=tz, consent=bool(patient.consent), opted_out=patient.opted_out_at is not None,
            texted_before=any(t.sent_at is not None for t in texts),
        ),
        [
            SessionFacts(s.id, s.external_id, s.completed_at, s.status,
                         split_regions(s.regions or ""), s.next_appointment_at)
            for s in sessions.values()
        ],
        [ExistingMessage(t.session_id, t.step, t.status, t.send_at, t.sent_at, t.reason)
         for t in texts],
        plan,
        SendWindow(facts.send_window_start, facts.send_window_end),
        now,
    )  # fmt: skip
    mine = {d.step: d for d in decisions if d.session_id == session.id}
    result: list[PlannedText] = []
    for t in texts:
        if t.session_id != session.id:
            continue
        d = mine.pop(t.step, None)
        if d is None:
            result.append(
                PlannedText(t.step, t.template_key, t.status, t.send_at, t.due_at, t.reason,
                            preview=t.status == MessageStatus.SCHEDULED)
            )  # fmt: skip
        else:
            result.append(
                PlannedText(d.step, d.template, d.status, d.send_at, d.due_at, d.reason, True)
            )
    for d in mine.values():
        result.append(
            PlannedText(d.step, d.template, d.status, d.send_at, d.due_at, d.reason, True)
        )
    return sorted(result, key=lambda p: (p.send_at.astimezone(UTC), p.step))
