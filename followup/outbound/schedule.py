"""Pure: what one patient's outbox should look like, given their sessions and messages.

The planner (``planner.py``) loads a patient's facts, calls :func:`plan_patient`, and writes the
returned decisions. Keeping the decision pure lets the tests walk every rule exhaustively and
with hypothesis, with no database in the way.

The whole patient is planned at once, not one session at a time, because the rules are about
the patient: caps count every text they get, a new session supersedes the check-ins of an
earlier one, and priorities choose between sessions when the caps force a choice.

Rules, in the order they apply:

1. Texts already handed to the gateway (sending, sent, delivered, undelivered, failed) are
   history: never moved, and (except failed) counted against the caps.
2. The patient opted out or has not consented: every pending text is skipped with that reason.
3. A cancelled session: its pending texts are skipped.
4. A newer completed session supersedes the pending ``supersedable`` steps (aftercare,
   check-ins) of every earlier one, so the patient has one coherent conversation.
5. A step whose anchor is missing (no next appointment booked) is not planned; a pending text
   for it is skipped ("no appointment").
6. The remaining steps are placed safety texts first (the aftercare, the breathing check-in),
   then by priority (highest first, then earliest due): each goes to the first instant at or
   after ``max(due, now)`` inside its send window (the step's own, else the clinic's) with
   room under the caps, and never before an earlier step of the same session. No such
   instant before the step's expiry: skipped ("too late" or "cap"). A safety text ignores
   the caps (it still counts against them, so the other texts give way): it is never skipped
   or moved for a cap, and one that goes over a cap says so in its reason.
7. For a patient who has never had a text, the plan's ``first`` step (the aftercare: who is
   texting, STOP/HELP) is placed before anything else and is never too late (its window
   counts from when it can go); every other text comes after it. So the first text a patient
   ever gets is the one that says how to opt out.
8. A safety text that a limit holds back (skipped as too late, or deferred by quiet hours more
   than the plan's ``safety_hold`` past ``max(due, now)``) carries ``held``: why, in staff
   words. The planner raises a flag and alerts staff for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from followup.outbound.careplan import CarePlan, Step
from followup.outbound.plan_types import format_duration
from followup.outbound.timing import CapCounter, SendWindow, find_slot, shift_local

#: skip reasons that a later planning run may undo (consent given, opt-in, session restored...)
REVIVABLE_REASONS = ("no consent", "opted out", "session cancelled", "cap", "no appointment")
#: statuses that count against the caps: the text went out, or is going out now
_COUNTED = frozenset({"sending", "sent", "delivered", "undelivered"})
_MIN = timedelta(minutes=1)


class SessionFacts(NamedTuple):
    id: int
    external_id: str
    completed_at: datetime
    status: str
    regions: frozenset[str]
    next_appointment_at: datetime | None


class ExistingMessage(NamedTuple):
    session_id: int
    step: str
    status: str
    send_at: datetime
    sent_at: datetime | None
    reason: str | None


class PatientFacts(NamedTuple):
    tz: ZoneInfo
    consent: bool
    opted_out: bool
    #: the patient has had a text before (any session, any time)
    texted_before: bool = True


class Decision(NamedTuple):
    """The wanted state of one (session, step) row.

    (Plain named tuples, not dataclasses: the planner makes tens of thousands a second.)
    """

    session_id: int
    step: str
    template: str
    priority: int
    due_at: datetime
    send_at: datetime
    expires_at: datetime
    status: str  # "scheduled" or "skipped"
    reason: str | None = None
    #: a safety text (never held back by the caps)
    safety: bool = False
    #: why a limit holds this safety text back (staff are alerted), or None
    held: str | None = None


def _reason_code(reason: str | None) -> str:
    return (reason or "").split(":", 1)[0]


def replannable(msg: ExistingMessage) -> bool:
    if msg.status == "scheduled":
        return True
    return msg.status == "skipped" and _reason_code(msg.reason) in REVIVABLE_REASONS


def step_times(step: Step, session: SessionFacts, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """``(due, expires)`` for a step of a session, or None when its anchor is missing."""
    anchor = session.completed_at if step.anchor == "completed" else session.next_appointment_at
    if anchor is None:
        return None
    due = shift_local(anchor, step.offset, tz) if step.clock == "local" else anchor + step.offset
    expires = due + step.window
    if step.anchor == "next_appointment":
        expires = min(expires, anchor - step.lead)
    return due, expires


def plan_patient(
    patient: PatientFacts,
    sessions: Sequence[SessionFacts],
    existing: Iterable[ExistingMessage],
    plan: CarePlan,
    window: SendWindow,
    now: datetime,
) -> list[Decision]:
    """Decisions for every step of ``sessions`` that should exist or change.

    ``sessions`` are the patient's sessions that matter now (at least those with pending texts
    and those waiting to be planned); ``existing`` are the patient's outbox rows.
    """
    tz = patient.tz
    by_key = {(m.session_id, m.step): m for m in existing}
    history = [m for m in by_key.values() if m.status in _COUNTED]
    counter = CapCounter(tz, plan.caps, (m.sent_at or m.send_at for m in history))

    completed = [s for s in sessions if s.status == "completed"]
    latest = max(completed, key=lambda s: (s.completed_at, s.id), default=None)

    blocker = "opted out" if patient.opted_out else ("no consent" if not patient.consent else None)
    decisions: list[Decision] = []
    candidates: list[tuple[SessionFacts, Step, datetime, datetime]] = []
    first_step = next((st for st in plan.steps if st.first), None)
    for session in sessions:
        treated = session.regions
        # a patient never texted is introduced by the first step (who is texting, STOP/HELP);
        # when that is too old to go, nothing of the session goes: no text without it
        stale_intro = (
            not patient.texted_before
            and first_step is not None
            and first_step.max_age is not None
            and now - session.completed_at > first_step.max_age
        )
        for step in plan.steps:
            old = by_key.get((session.id, step.key))
            if old is not None and not replannable(old):
                continue  # history, or skipped for good (superseded, too late)
            times = step_times(step, session, tz)
            if times is None:
                if old is not None and old.status == "scheduled":
                    decisions.append(
                        _skip(
                            session,
                            step,
                            old.send_at,
                            old.send_at,
                            treated,
                            "no appointment: none booked any more",
                        )
                    )
                continue
            due, expires = times
            reason = None
            if blocker:
                reason = blocker
            elif session.status != "completed":
                reason = "session cancelled"
            elif (
                step.max_age is not None
                and step.anchor == "completed"
                and now - session.completed_at > step.max_age
            ):
                reason = f"too old: the session ended more than {format_duration(step.max_age)} ago"
            elif stale_intro and first_step is not None and first_step.max_age is not None:
                age = format_duration(first_step.max_age)
                reason = f"too old: the session ended more than {age} ago, before any text"
            elif (
                step.supersedable
                and latest is not None
                and latest.id != session.id
                and (latest.completed_at, latest.id) > (session.completed_at, session.id)
            ):
                reason = f"superseded: by session {latest.external_id}"
            if reason is not None:
                if old is None or old.status == "scheduled" or old.reason != reason:
                    decisions.append(_skip(session, step, due, expires, treated, reason))
                continue
            candidates.append((session, step, due, expires))

    # Safety texts first, then the highest priority; for equal priority the earlier due time.
    # A patient never texted gets the introducing step before anything else (rule 7).
    introducing = not patient.texted_before
    treated = {s.id: s.regions for s in sessions}
    ranked = [(c, c[1].is_safety(c[0].regions)) for c in candidates]
    ranked.sort(
        key=lambda r: (
            not (introducing and r[0][1].first),
            not r[1],
            -r[0][1].priority,
            r[0][2],
            r[0][0].id,
        )
    )
    intro_at: datetime | None = None
    placed_by_session: dict[int, list[tuple[timedelta, datetime]]] = {}
    for (session, step, due, expires), safety in ranked:
        earliest = soonest = max(due, now)
        if introducing and step.first and intro_at is None:
            # the first text a patient gets says who is texting and how to opt out: it goes
            # even when late, its window counted from when it can go
            expires = max(expires, earliest + step.window)
        elif intro_at is not None:
            earliest = max(earliest, intro_at + _MIN)
        # never before an earlier step of the same session (order of the conversation)
        for offset, at in placed_by_session.get(session.id, ()):
            if step.anchor == "completed" and offset < step.offset:
                earliest = max(earliest, at + _MIN)
        hours = step.send_window or window
        at, why = find_slot(earliest, expires, tz, hours, None if safety else counter)
        if at is None:
            until = expires.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
            detail = (
                f"too late: no sending time before {until}"
                if why == "too late"
                else f"cap: no day with room before {until}"
            )
            skip = _skip(session, step, due, expires, treated[session.id], detail)
            if safety:
                skip = skip._replace(safety=True, held=f"{step.key} not sent: {detail}")
            decisions.append(skip)
            continue
        reason = held = None
        if safety:
            if at - soonest > plan.safety_hold:
                local = at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
                reason = f"held back: quiet hours, first sending time {local}"
                held = f"{step.key} {reason}"
            elif not counter.has_room(counter.local_day(at)):
                reason = "over the cap: a safety text is never held back for it"
        counter.add(at)
        if introducing and step.first and intro_at is None:
            intro_at = at
        if step.anchor == "completed":
            placed_by_session.setdefault(session.id, []).append((step.offset, at))
        decisions.append(
            Decision(
                session_id=session.id,
                step=step.key,
                template=step.template_for(session.regions),
                priority=step.priority,
                due_at=due,
                send_at=at,
                expires_at=expires,
                status="scheduled",
                reason=reason,
                safety=safety,
                held=held,
            )
        )
    return decisions


def _skip(
    session: SessionFacts,
    step: Step,
    due: datetime,
    expires: datetime,
    treated: frozenset[str],
    reason: str,
) -> Decision:
    return Decision(
        session_id=session.id,
        step=step.key,
        template=step.template_for(treated),
        priority=step.priority,
        due_at=due,
        send_at=due,
        expires_at=expires,
        status="skipped",
        reason=reason,
    )
