"""Pure: whether a sent safety check-in gets its nudge, and whether a nudge calls for staff.

:mod:`followup.outbound.nudges` reads the rows and writes what these decide. The rules
(clinical.md section 2: "a few hours after an unanswered check-in, at most once"):

- A check-in gets a nudge when it was a safety text of the plan's nudged step (the breathing
  check-in of the default plan). The nudge is one outbox row per session, written as soon
  as the check-in has gone: ``scheduled`` for the plan's ``nudge.after`` later (moved out
  of quiet hours, never earlier), with the reason "only if no reply". Skipped at once, with
  the reason, when the patient opted out or has no consent (never nudge an opted-out
  patient), has answered already, had a newer session meanwhile, or when no sending time is
  left within ``nudge.window``.
- A nudge that went out and got no reply within ``nudge.answer_within``, or that could not
  go (failed, undelivered, skipped as too late), calls for staff: a review flag and an alert.
  A nudge skipped because the patient answered, opted out or had a newer session does not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from followup.outbound.plan_types import CarePlan
from followup.outbound.timing import SendWindow, next_allowed
from followup.store.statuses import OutboxFlag

#: the reason a nudge waits with: it goes only if the check-in gets no reply first
PENDING = "only if the check-in gets no reply"
ANSWERED = "answered: the patient replied"
#: statuses of a text that went out
_SENT = frozenset({"sent", "delivered", "undelivered"})


class SentCheckin(NamedTuple):
    """A check-in that went out, with what deciding its nudge needs."""

    step: str
    template: str
    sent_at: datetime
    opted_out: bool
    consent: bool
    answered: bool
    superseded: bool


class NudgeDecision(NamedTuple):
    """The nudge row to write."""

    template: str
    due_at: datetime
    send_at: datetime
    expires_at: datetime
    status: str
    reason: str


def nudged(plan: CarePlan, step: str, template: str) -> bool:
    """Whether a sent text of ``step`` with ``template`` gets the plan's nudge."""
    nudged_step = plan.nudged
    return (
        nudged_step is not None
        and nudged_step.key == step
        and nudged_step.is_safety_template(template)
    )


def nudge_for(
    checkin: SentCheckin, plan: CarePlan, tz: ZoneInfo, window: SendWindow, now: datetime
) -> NudgeDecision | None:
    """The nudge of a sent check-in, or None when the plan does not nudge it."""
    if not nudged(plan, checkin.step, checkin.template):
        return None
    settings = plan.nudge
    due = checkin.sent_at + settings.after
    expires = due + settings.window

    def skipped(reason: str) -> NudgeDecision:
        return NudgeDecision(settings.template, due, due, expires, "skipped", reason)

    if checkin.opted_out:
        return skipped("opted out")
    if not checkin.consent:
        return skipped("no consent")
    if checkin.answered:
        return skipped(ANSWERED)
    if checkin.superseded:
        return skipped("superseded: by a newer session")
    at = next_allowed(max(due, now), tz, window)
    if at > expires:
        until = expires.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        return skipped(f"too late: no sending time before {until}")
    return NudgeDecision(settings.template, due, at, expires, "scheduled", PENDING)


class SentNudge(NamedTuple):
    """A nudge as it is now, for its staff follow-up."""

    status: str
    reason: str | None
    sent_at: datetime | None
    #: the patient replied after the nudge went out
    answered: bool


def staff_reason(nudge: SentNudge, plan: CarePlan, now: datetime) -> str | None:
    """Why staff must call about this nudge's patient (the flag's reason), or None."""
    if nudge.status in _SENT and nudge.sent_at is not None:
        if nudge.answered or now < nudge.sent_at + plan.nudge.answer_within:
            return None
        waited = _hours(now - nudge.sent_at)
        return f"{OutboxFlag.NO_ANSWER}: safety check-in and its nudge unanswered for {waited}"
    if nudge.status == "failed":
        return f"{OutboxFlag.NO_ANSWER}: safety check-in unanswered, and its nudge failed"
    code = (nudge.reason or "").split(":", 1)[0]
    if nudge.status == "skipped" and code == "too late":
        return f"{OutboxFlag.NO_ANSWER}: safety check-in unanswered, its nudge too late to go"
    return None


def _hours(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return f"{hours} h" if hours else f"{int(span.total_seconds() // 60)} min"
