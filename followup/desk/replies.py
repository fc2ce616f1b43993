"""The clinic's replies inbox: what patients wrote, newest first, with how each was read (kind,
urgency, score, the terms that decided), what we answered automatically, the flags it
raised, and what staff answered after it.

Every reply that reached the clinic's number is here, a number the clinic has no record of
too (no patient, but the clinic's): someone wrote to it, and a person should see what.

A staff answer is a text staff wrote (:mod:`followup.desk.staff_texts`); it is shown under
the reply it follows: the patient's latest reply to the clinic at the time it was written.
No column ties the two, so a text written from the patient's page or by the API shows
under the reply before it too, which is where it sits in the conversation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from followup.desk.errors import DeskError
from followup.desk.paging import Paged
from followup.store import listings
from followup.store.outbox import staff_texts
from followup.store.statuses import ReplyKind

PER_PAGE = 50
#: the kinds a reading gives a reply
KINDS = tuple(ReplyKind)
#: how urgent a reading made a reply (followup.inbound.reading.result)
URGENCIES = ("emergency", "today", "review", "none")


@dataclass(frozen=True)
class StaffAnswer:
    """A text staff wrote after a reply: its words, where it is, and who wrote it."""

    message_id: int
    body: str
    status: str
    reason: str | None
    send_at: datetime
    sent_at: datetime | None
    written_by: str | None


@dataclass(frozen=True)
class ReplyFlag:
    id: int
    kind: str
    reason: str
    status: str


@dataclass(frozen=True)
class ReplyView:
    id: int
    received_at: datetime
    #: what the patient wrote (staff eyes only)
    body: str
    kind: str
    urgency: str
    score: int | None
    worry: bool | None
    matched: tuple[str, ...]
    #: what we answered at once (the template and its text), None when we stayed silent
    answer_key: str | None
    answer: str | None
    #: the patient's row id, first name and the clinic's id for them; None for a number
    #: the clinic has no record of
    patient_id: int | None
    first_name: str | None
    external_id: str | None
    flags: tuple[ReplyFlag, ...]
    staff_answers: tuple[StaffAnswer, ...]


#: a page of the list, as :func:`replies` gives it
ReplyPage = Paged[ReplyView]


def parse_day(field: str, text: str | None) -> date | None:
    """A date as a form or a query gives it (``2026-03-11``), or None when blank."""
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DeskError(field, "a date as YYYY-MM-DD") from None


def day_range(
    zone: str, first: date | None, last: date | None
) -> tuple[datetime | None, datetime | None]:
    """The instants [since, until) of the days ``first`` to ``last`` (both included) in the
    clinic's zone: staff think in the clinic's days, not in UTC's."""
    if first and last and last < first:
        raise DeskError("to", "must be on or after the first day")
    tz = ZoneInfo(zone)
    since = datetime.combine(first, time(0), tz) if first else None
    until = datetime.combine(last + timedelta(days=1), time(0), tz) if last else None
    return since, until


def _check(kind: str | None, urgency: str | None) -> None:
    if kind and kind not in set(ReplyKind):
        raise DeskError("kind", f"one of {', '.join(ReplyKind)}")
    if urgency and urgency not in URGENCIES:
        raise DeskError("urgency", f"one of {', '.join(URGENCIES)}")


def replies(
    db: Session,
    clinic_id: int,
    *,
    kind: str | None = None,
    urgency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> ReplyPage:
    """A page of the clinic's replies, newest first, filtered by kind, urgency and
    ``received_at`` in [since, until)."""
    _check(kind, urgency)
    if page < 1:
        raise DeskError("page", "must be 1 or more")
    if not 1 <= per_page <= 200:
        raise DeskError("per_page", "must be between 1 and 200")
    rows, total = listings.clinic_replies(
        db, clinic_id, kind=kind, urgency=urgency, since=since, until=until, limit=per_page,
        offset=(page - 1) * per_page,
    )  # fmt: skip
    return ReplyPage(tuple(_views(db, clinic_id, rows)), total, page, per_page)


def all_replies(
    db: Session, clinic_id: int, *, since: datetime | None, until: datetime | None
) -> list[ReplyView]:
    """Every reply of the clinic received in [since, until), newest first (an export)."""
    rows, _ = listings.clinic_replies(db, clinic_id, since=since, until=until, limit=None)
    return _views(db, clinic_id, rows)


def _views(db: Session, clinic_id: int, rows: list) -> list[ReplyView]:
    if not rows:
        return []
    ids = [r[0].id for r in rows]
    flags: dict[int, list[ReplyFlag]] = defaultdict(list)
    for f in listings.flags_of_replies(db, clinic_id, ids):
        flags[f.inbound_id].append(ReplyFlag(f.id, f.kind, f.reason, f.status))
    answers = _staff_answers(db, clinic_id, rows)
    return [
        ReplyView(
            id=m.id, received_at=m.received_at, body=m.body, kind=m.kind, urgency=m.urgency,
            score=m.score, worry=m.worry, matched=tuple(m.matched or ()),
            answer_key=m.reply_key, answer=m.reply_body, patient_id=m.patient_id,
            first_name=first, external_id=ext, flags=tuple(flags[m.id]),
            staff_answers=tuple(answers[m.id]),
        )
        for m, first, ext in rows
    ]  # fmt: skip


def _staff_answers(db: Session, clinic_id: int, rows: list) -> dict[int, list[StaffAnswer]]:
    """Each reply's staff answers: the staff texts written after it and before the same
    patient's next reply to the clinic."""
    found: dict[int, list[StaffAnswer]] = defaultdict(list)
    patients = sorted({m.patient_id for m, _, _ in rows if m.patient_id is not None})
    if not patients:
        return found
    since = min(m.received_at for m, _, _ in rows)
    replies_of: dict[int, list] = defaultdict(list)
    for r in listings.reply_times(db, clinic_id, patients, since=since):
        replies_of[r.patient_id].append(r)
    for t in staff_texts.staff_texts_of(db, clinic_id, patients, since=since):
        before = [r for r in replies_of[t.patient_id] if r.received_at <= t.created_at]
        if before:
            found[before[-1].id].append(
                StaffAnswer(
                    t.id,
                    t.body or "",
                    t.status,
                    t.reason,
                    t.send_at,
                    t.sent_at,
                    t.written_by.removeprefix("user:") if t.written_by else None,
                )
            )
    return found
