"""A clinic's reports: delivery rate, reply rate, flags by kind and time to acknowledge, for
the last 7, 30 or 90 days, per local day or week. The page and the API show the same
:class:`Metrics`, and :data:`DEFINITIONS` says on both what each number counts, because a
rate without its denominator is a number nobody can act on.

The period is the clinic's own calendar: the last ``days`` local days, today included (to
now), cut at the clinic's midnights (weeks start on Monday). The counting is SQL in
:mod:`followup.store.metrics`; the rates, the percentiles and the periods' edges are
worked out here, from those counts, by pure functions.

Reading a report is not audited: it shows counts, never a patient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from followup.desk.errors import DeskError
from followup.desk.flags import URGENCY
from followup.store import metrics as counts
from followup.store.statuses import FlagKind, MessageStatus

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
GROUPINGS = ("day", "week")
#: flag kinds, most urgent first (as the flags page lists them)
KINDS: tuple[str, ...] = tuple(sorted(URGENCY, key=URGENCY.__getitem__))
KIND_NAMES = {FlagKind.EMERGENCY: "Emergency", FlagKind.CLINIC_TODAY: "Clinic today",
              FlagKind.CALLBACK: "Call-back", FlagKind.REVIEW: "Review"}  # fmt: skip

DEFINITIONS = {
    "delivery": (
        "Of the texts the SMS provider accepted in the period (counted on the day it accepted "
        "them), the share the carrier reported delivered: delivered / (delivered + undelivered "
        "+ failed). A text with no receipt from the carrier yet is counted as awaiting and left "
        "out of the rate until its receipt comes. A text the provider refused outright never "
        "left and is not counted."
    ),
    "replies": (
        "Of the check-ins (the texts that ask how the patient is: the 24 h and 72 h check-ins "
        "and their variants) the provider accepted in the period, the share a patient "
        "answered. A reply answers the latest check-in sent to that patient before the reply "
        "came, whenever it came; a STOP or a 'wrong number' is not an answer."
    ),
    "flags": (
        "Flags raised in the period, by the day (or week) they were raised and by kind: "
        "emergency, clinic today, call-back, and review (a reply the rules could not settle, "
        "or a text staff must know about)."
    ),
    "acknowledgement": (
        "For the flags raised in the period and acknowledged since: the median and the 90th "
        "percentile of the minutes from the flag being raised to its acknowledgement, per kind "
        "(between two flags, interpolated as a spreadsheet's PERCENTILE does). Open flags are "
        "every flag not acknowledged yet, whenever it was raised, so no old one is hidden by "
        "the period; 'oldest' is how long the longest-waiting one has waited."
    ),
}


@dataclass(frozen=True)
class Period:
    """One bar of a chart: a local day or week, as its UTC edges."""

    label: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Delivery:
    label: str
    delivered: int
    undelivered: int
    failed: int
    #: accepted by the provider, no receipt from the carrier yet
    awaiting: int
    #: delivered / (delivered + undelivered + failed); None when none of those
    rate: float | None


@dataclass(frozen=True)
class Replies:
    label: str
    sent: int
    answered: int
    #: answered / sent; None when no check-in was sent
    rate: float | None


@dataclass(frozen=True)
class FlagCounts:
    label: str
    emergency: int
    clinic_today: int
    callback: int
    review: int

    @property
    def total(self) -> int:
        return self.emergency + self.clinic_today + self.callback + self.review


@dataclass(frozen=True)
class Acknowledgement:
    kind: str
    #: flags of this kind raised in the period and acknowledged since
    acknowledged: int
    median_minutes: float | None
    p90_minutes: float | None
    #: open flags of this kind now, whenever raised
    open: int
    oldest_open_minutes: float | None


@dataclass(frozen=True)
class Metrics:
    days: int
    by: str
    timezone: str
    start: datetime
    end: datetime
    delivery: tuple[Delivery, ...]
    replies: tuple[Replies, ...]
    flags: tuple[FlagCounts, ...]
    acknowledgement: tuple[Acknowledgement, ...]
    delivery_total: Delivery
    replies_total: Replies


def periods(now: datetime, tz: ZoneInfo, days: int, by: str) -> list[Period]:
    """The last ``days`` local days of ``tz`` up to ``now``, as days or weeks (from Monday;
    the first and last week may be short). Pure."""
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    starts = [first + timedelta(days=i) for i in range(days)]
    if by == "week":
        starts = [d for d in starts if d == first or d.weekday() == 0]
    edges = [local_midnight(d, tz) for d in starts] + [now.astimezone(UTC)]
    label = "%d %b" if by == "day" else "week of %d %b"
    return [Period(d.strftime(label), edges[i], edges[i + 1]) for i, d in enumerate(starts)]


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant (UTC) ``day`` begins in ``tz``."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def percentile(values_at: dict[int, float], n: int, p: float) -> float | None:
    """The ``p`` percentile (0..1) of ``n`` sorted values, interpolated linearly between
    the two nearest ranks, as PostgreSQL's ``percentile_cont``; ``values_at`` holds the
    values at the ranks :func:`ranks_for` names (1-based). None for no values. Pure."""
    if n == 0:
        return None
    position = p * (n - 1)
    low, high = math.floor(position), math.ceil(position)
    a, b = values_at[low + 1], values_at[high + 1]
    return a + (b - a) * (position - low)


def ranks_for(n: int, ps: Sequence[float]) -> set[int]:
    """The 1-based ranks :func:`percentile` needs for ``ps`` of ``n`` values. Pure."""
    if n == 0:
        return set()
    found: set[int] = set()
    for p in ps:
        position = p * (n - 1)
        found |= {math.floor(position) + 1, math.ceil(position) + 1}
    return found


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _delivery(label: str, by_status: dict[str, int]) -> Delivery:
    delivered, undelivered, failed = (
        by_status.get(s, 0) for s in (MessageStatus.DELIVERED, MessageStatus.UNDELIVERED,
                                       MessageStatus.FAILED)
    )  # fmt: skip
    return Delivery(label, delivered, undelivered, failed, by_status.get(MessageStatus.SENT, 0),
                    _rate(delivered, delivered + undelivered + failed))  # fmt: skip


def clinic_metrics(
    db: Session, clinic_id: int, *, timezone: str, now: datetime, days: int = DEFAULT_DAYS,
    by: str | None = None,
) -> Metrics:  # fmt: skip
    """The clinic's four figures for the last ``days`` days (7, 30 or 90), per ``by`` (day
    or week; by default days for up to 30 days, weeks for 90). DeskError for another
    period or grouping."""
    if days not in PERIODS:
        raise DeskError("days", f"choose one of {', '.join(map(str, PERIODS))}")
    by = by or ("day" if days <= 30 else "week")
    if by not in GROUPINGS:
        raise DeskError("by", "choose day or week")
    tz = ZoneInfo(timezone)
    cut = periods(now, tz, days, by)
    edges = [p.start for p in cut] + [cut[-1].end]

    statuses: list[dict[str, int]] = [{} for _ in cut]
    for row in counts.texts_by_status(db, clinic_id, edges):
        statuses[row.period][row.status] = row.n
    everything: dict[str, int] = {}
    for by_status in statuses:
        for status, n in by_status.items():
            everything[status] = everything.get(status, 0) + n

    checkins = [(0, 0)] * len(cut)
    for row in counts.checkins_answered(db, clinic_id, edges):
        checkins[row.period] = (row.sent, int(row.answered or 0))
    sent, answered = (sum(c[i] for c in checkins) for i in (0, 1))

    raised: list[dict[str, int]] = [{} for _ in cut]
    for row in counts.flags_by_kind(db, clinic_id, edges):
        raised[row.period][row.kind] = row.n

    return Metrics(
        days=days, by=by, timezone=timezone, start=edges[0], end=edges[-1],
        delivery=tuple(_delivery(p.label, s) for p, s in zip(cut, statuses, strict=True)),
        replies=tuple(Replies(p.label, s, a, _rate(a, s))
                      for p, (s, a) in zip(cut, checkins, strict=True)),
        flags=tuple(FlagCounts(p.label, *(r.get(k, 0) for k in KINDS))
                    for p, r in zip(cut, raised, strict=True)),
        acknowledgement=_acknowledgements(db, clinic_id, edges, now),
        delivery_total=_delivery("period", everything),
        replies_total=Replies("period", sent, answered, _rate(answered, sent)),
    )  # fmt: skip


def _acknowledgements(
    db: Session, clinic_id: int, edges: list[datetime], now: datetime
) -> tuple[Acknowledgement, ...]:
    done = {row.kind: row.n for row in counts.acknowledged_by_kind(db, clinic_id, edges)}
    wanted = set().union(*(ranks_for(n, (0.5, 0.9)) for n in done.values()))
    at: dict[str, dict[int, float]] = {k: {} for k in KINDS}
    for row in counts.ack_seconds_at(db, clinic_id, edges, sorted(wanted)):
        at[row.kind][row.rank] = float(row.seconds) / 60
    still_open = {row.kind: row for row in counts.open_by_kind(db, clinic_id)}
    figures = []
    for kind in KINDS:
        n = done.get(kind, 0)
        row = still_open.get(kind)
        oldest = (now - row.oldest).total_seconds() / 60 if row is not None else None
        figures.append(Acknowledgement(
            kind, n, percentile(at[kind], n, 0.5), percentile(at[kind], n, 0.9),
            row.n if row is not None else 0, oldest,
        ))  # fmt: skip
    return tuple(figures)
