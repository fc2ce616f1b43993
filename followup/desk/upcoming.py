"""A clinic's texts as staff act on them: the upcoming ones (next 7 days, a page at a time),
any of them by status and time, cancelling one that still waits, and sending one now.

"Now" is within the rules. :func:`send_now` only makes the text due at once; the
dispatcher sends it with every check of a send (consent, opt-out, a number that cannot take
texts, a cancelled session, the text's window, the sending hours, a clinic nobody can
alert). What it refuses outright (the patient opted out, no consent...) is refused here with
the reason; what makes it wait (quiet hours) is said in the result, with when it will go.

A safety text (the aftercare, the breathing check-in, their nudge) is what a patient needs
to be safe after a session: it is cancelled only with a reason, and every cancel is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from followup.access import audit
from followup.desk.errors import DeskError, NotFound
from followup.desk.paging import Paged
from followup.outbound.careplan import CarePlan, CarePlanError, plan_for
from followup.outbound.send_checks import skip_reason, window_wait
from followup.outbound.timing import SendWindow
from followup.store.outbox import NUDGE_STEP, is_staff_text, staff_moves
from followup.store.session_records import clinic_facts
from followup.store.statuses import MessageStatus

#: how far ahead the upcoming list looks
UPCOMING = timedelta(days=7)
PER_PAGE = 50
MAX_REASON = 500
#: the reason prefix of a text staff cancelled (never revived by a re-plan)
CANCELLED = "cancelled by staff"


@dataclass(frozen=True)
class TextView:
    """A text of the outbox as staff see it."""

    id: int
    session_id: str
    patient_id: str
    patient_row_id: int
    first_name: str
    step: str
    template_key: str
    status: str
    reason: str | None
    due_at: datetime
    send_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    safety: bool


#: a page of the list, as :func:`upcoming` gives it
TextPage = Paged[TextView]


@dataclass(frozen=True)
class SendNow:
    """What :func:`send_now` did: the text, and when it will actually go."""

    text: TextView
    #: the earliest the dispatcher will send it (its next tick at or after this)
    goes_at: datetime
    #: in staff words: "goes with the next dispatch" or why it waits and until when
    note: str


@lru_cache(maxsize=64)
def _parsed(canonical: str) -> CarePlan:
    return plan_for(json.loads(canonical))


def _plan(stored: Any) -> CarePlan | None:
    try:
        return plan_for(None) if not stored else _parsed(json.dumps(stored, sort_keys=True))
    except CarePlanError:
        return None


def is_safety(step: str, template_key: str, care_plan: Any) -> bool:
    """Whether a text is a safety text. Fail safe: a nudge (it follows an unanswered safety
    check-in), or a step the clinic's plan does not know or cannot be read, counts as one."""
    if step == NUDGE_STEP:
        return True
    plan = _plan(care_plan)
    found = plan.by_key.get(step) if plan is not None else None
    return True if found is None else found.is_safety_template(template_key)


def _view(row: Any, care_plan: Any) -> TextView:
    m = row[0]
    return TextView(
        id=m.id, session_id=row.session_external_id, patient_id=row.patient_external_id,
        patient_row_id=m.patient_id, first_name=row.first_name, step=m.step,
        template_key=m.template_key, status=m.status, reason=m.reason, due_at=m.due_at,
        send_at=m.send_at, expires_at=m.expires_at, sent_at=m.sent_at,
        safety=is_safety(m.step, m.template_key, care_plan),
    )  # fmt: skip


def _care_plan(db: Session, clinic_id: int) -> Any:
    facts = clinic_facts(db, clinic_id)
    return facts.care_plan if facts is not None else None


def upcoming(
    db: Session, clinic_id: int, *, now: datetime, page: int = 1, per_page: int = PER_PAGE
) -> TextPage:
    """The clinic's texts waiting to go in the next 7 days (and any overdue), soonest first."""
    if page < 1:
        raise DeskError("page", "must be 1 or more")
    if not 1 <= per_page <= 200:
        raise DeskError("per_page", "must be between 1 and 200")
    rows, total = staff_moves.listed(
        db, clinic_id, statuses=(MessageStatus.SCHEDULED,), until=now + UPCOMING,
        limit=per_page, offset=(page - 1) * per_page,
    )  # fmt: skip
    plan = _care_plan(db, clinic_id)
    return TextPage(tuple(_view(r, plan) for r in rows), total, page, per_page)


def list_texts(
    db: Session,
    clinic_id: int,
    *,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = PER_PAGE,
    offset: int = 0,
) -> TextPage:
    """The clinic's texts by status and sending time (``send_at`` in [since, until))."""
    if status is not None and status not in set(MessageStatus):
        raise DeskError("status", f"one of {', '.join(MessageStatus)}")
    if not 1 <= limit <= 500:
        raise DeskError("limit", "must be between 1 and 500")
    if offset < 0:
        raise DeskError("offset", "must be 0 or more")
    if since and until and until <= since:
        raise DeskError("until", "must be after since")
    rows, total = staff_moves.listed(
        db, clinic_id, statuses=(status,) if status else (), since=since, until=until,
        limit=limit, offset=offset,
    )  # fmt: skip
    plan = _care_plan(db, clinic_id)
    return TextPage(tuple(_view(r, plan) for r in rows), total, offset // limit + 1, limit)


def get_text(db: Session, clinic_id: int, message_id: int) -> TextView:
    """The clinic's text; NotFound for another clinic's."""
    row = staff_moves.text_of_clinic(db, clinic_id, message_id)
    if row is None:
        raise NotFound("message")
    return _view(row, row.care_plan)


def cancel(
    db: Session,
    clinic_id: int,
    message_id: int,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> TextView:
    """Skip a text that still waits to go. A safety text needs a ``reason``; every cancel
    is audited (``message.cancel``). A text a worker is sending, or one gone already, is
    refused: it is past cancelling."""
    row = staff_moves.text_of_clinic(db, clinic_id, message_id)
    if row is None:
        raise NotFound("message")
    text = _view(row, row.care_plan)
    reason = " ".join((reason or "").split())[:MAX_REASON]
    if text.status != MessageStatus.SCHEDULED:
        raise DeskError(
            "status", f"the text is {text.status}: only a waiting text can be cancelled"
        )
    if text.safety and not reason:
        raise DeskError(
            "reason",
            "this is a safety text (what the patient needs to know after treatment): "
            "say why it should not go",
        )
    why = f"{CANCELLED} ({actor})" + (f": {reason}" if reason else "")
    if not staff_moves.cancel_waiting(db, message_id, now=now, reason=why, actor=actor):
        raise DeskError("status", "the text is being sent right now: it can no longer be cancelled")
    audit.record(
        db, actor=actor, action="message.cancel", now=now, clinic_id=clinic_id,
        subject=f"message:{message_id}",
        detail=("safety text; " if text.safety else "") + (reason or "no reason given"),
    )  # fmt: skip
    return get_text(db, clinic_id, message_id)


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def send_now(db: Session, clinic_id: int, message_id: int, *, now: datetime, actor: str) -> SendNow:
    """Make a waiting text due now. Refused (DeskError, with the reason) when a send would
    be refused: opted out, no consent, a number that cannot take texts, a cancelled
    session, the text's window over. Otherwise its due time moves to now, audited
    (``message.send_now``), and the result says when it will actually go: at the
    dispatcher's next tick, or when the sending hours open (quiet hours still hold it)."""
    row = staff_moves.text_of_clinic(db, clinic_id, message_id)
    if row is None:
        raise NotFound("message")
    text = _view(row, row.care_plan)
    if text.status != MessageStatus.SCHEDULED:
        raise DeskError("status", f"the text is {text.status}: only a waiting text can be sent")
    why = skip_reason(
        opted_out=row.opted_out_at is not None,
        consent=bool(row.consent),
        phone_unusable=row.phone_unusable_at is not None,
        session_status=row.session_status,
        expires_at=text.expires_at,
        now=now,
        staff=is_staff_text(text.template_key),
    )
    if why:
        raise DeskError("message", f"it cannot be sent: {why}")
    tz = _zone(row.patient_timezone) or _zone(row.clinic_timezone) or ZoneInfo("UTC")
    plan = _plan(row.care_plan)
    step = plan.by_key.get(text.step) if plan is not None else None
    window = (step.send_window if step is not None else None) or SendWindow(
        row.send_window_start, row.send_window_end
    )
    wait = window_wait(now, tz, window)
    if wait is not None and wait > text.expires_at:
        raise DeskError(
            "message",
            "it cannot be sent: outside sending hours, and its window ends before they open",
        )
    if not staff_moves.bring_forward(
        db, message_id, now=now, reason=f"send now: asked by {actor}", actor=actor
    ):
        raise DeskError("status", "the text is being sent right now")
    if wait is not None:
        local = wait.astimezone(tz)
        note = (
            f"outside sending hours: it goes when they open, {local:%Y-%m-%d %H:%M %Z} "
            "(the planner places it then, within the patient's limits)"
        )
        goes = wait
    elif not (row.oncall_phone or row.alert_urls):
        note = "waits: the clinic has no staff alert destination, so no text goes out"
        goes = now
    else:
        note = "goes with the dispatcher's next tick (a few seconds)"
        goes = now
    audit.record(
        db, actor=actor, action="message.send_now", now=now, clinic_id=clinic_id,
        subject=f"message:{message_id}", detail=note,
    )  # fmt: skip
    return SendNow(get_text(db, clinic_id, message_id), goes, note)
