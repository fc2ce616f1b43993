"""A clinic's opening hours: read them, write them, and decide with them. Pure.

Opening hours are wall-clock times per weekday in the clinic's time zone (``Mon-Fri
09:00-17:00``), so they follow DST on their own: 09:00 is 09:00 before and after the change.
Three decisions rest on them:

- :func:`is_open`: is the clinic open at instant ``t``? (What a patient's "we will call you"
  may promise.)
- :func:`next_open`: the first instant at or after ``t`` when it is open.
- :func:`open_deadline`: the instant when ``delay`` of *open* time has passed since ``t``:
  a review flag raised on Saturday night has waited no open time until Monday 09:00, so with
  a two-hour delay it escalates on Monday at 11:00.

All three are computed from the same list of open periods (:func:`open_periods`), so they
always agree. A wall-clock time becomes an instant as the CSV import reads local times: one
that does not exist (skipped by a DST change) is the instant the clock jumps past it, an
ambiguous one (repeated by a DST change) its first occurrence. So a day that loses an hour
loses it from an interval that spans the change, and one that gains an hour adds it.

No I/O: plain values in, plain values out (the store keeps :func:`to_data`'s JSON).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_MINUTES = 24 * 60
#: how far ahead :func:`next_open` looks: a weekly schedule repeats after 7 days; one more
#: covers a DST change and the day ``t`` falls in
HORIZON_DAYS = 9

#: one open interval of a day: minutes after local midnight, start inclusive, end exclusive
Interval = tuple[int, int]

_HHMM = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")
_DAY_PART = re.compile(r"^([A-Za-z]{3})(?:-([A-Za-z]{3}))?$")
#: a part of the text: its days, then its times (or "closed")
_SPLIT = re.compile(r"^(\S.*?)\s+((?:\d|closed\b).*)$", re.IGNORECASE)


class HoursError(ValueError):
    """Opening hours that cannot be read or cannot be right; the message says what and why."""


@dataclass(frozen=True)
class WeekHours:
    """Open intervals per weekday, Monday first; a day without intervals is closed.

    Intervals of a day are sorted, do not overlap and lie within 00:00-24:00 (the parser
    and :func:`from_data` refuse anything else)."""

    days: tuple[tuple[Interval, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise HoursError("opening hours: expected 7 days, Monday first")
        for name, intervals in zip(DAY_NAMES, self.days, strict=True):
            _check_day(name, intervals)

    @property
    def never_open(self) -> bool:
        return not any(self.days)


def _check_day(name: str, intervals: Sequence[Interval]) -> None:
    previous_end = -1
    for start, end in intervals:
        if not (0 <= start < end <= DAY_MINUTES):
            raise HoursError(
                f"{name} {format_minutes(start)}-{format_minutes(end)}: the start must be "
                "before the end, within 00:00-24:00 (split a night across two days)"
            )
        if start < previous_end:
            raise HoursError(f"{name}: intervals overlap at {format_minutes(start)}")
        previous_end = end


#: what a clinic gets unless it says otherwise: weekdays, office hours
DEFAULT_HOURS = WeekHours((((9 * 60, 17 * 60),),) * 5 + ((),) * 2)


# --- reading and writing ----------------------------------------------------------------------


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(value: str, what: str) -> int:
    m = _HHMM.match(value.strip())
    minutes = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
    if not m or minutes > DAY_MINUTES:
        raise HoursError(f"{what}: {value.strip()!r} is not a time of day as HH:MM (e.g. 09:00)")
    return minutes


def _day_index(token: str, part: str) -> int:
    try:
        return DAYS.index(token.lower())
    except ValueError:
        raise HoursError(
            f"{part!r}: {token!r} is not a day; use Mon, Tue, Wed, Thu, Fri, Sat, Sun"
        ) from None


def parse_hours(text: str) -> WeekHours:
    """``"Mon-Fri 09:00-17:00; Sat 09:00-12:00"`` -> :class:`WeekHours`.

    Parts are separated by ``;``; each names days (``Mon``, a range ``Mon-Fri`` that may wrap
    as ``Sat-Sun`` or ``Fri-Mon``, or a list ``Mon,Wed``) and their intervals
    (``09:00-12:00,13:00-17:00``) or ``closed``. Days not named are closed. A day named
    twice, overlapping intervals, an end before its start and a week with no open hour at
    all are refused: escalations count open time, and a clinic never open would never
    escalate.
    """
    if not text or not text.strip():
        raise HoursError("empty; expected e.g. 'Mon-Fri 09:00-17:00'")
    days: list[list[Interval] | None] = [None] * 7
    for raw_part in text.split(";"):
        part = raw_part.strip()
        if not part:
            continue
        m = _SPLIT.match(part)
        if not m:
            raise HoursError(f"{part!r}: expected days and hours, e.g. 'Mon-Fri 09:00-17:00'")
        head, rest = re.sub(r"\s+", "", m.group(1)), m.group(2).strip()
        indices: list[int] = []
        for day_part in head.split(","):
            m = _DAY_PART.match(day_part.strip())
            if not m:
                raise HoursError(f"{part!r}: {day_part.strip()!r} is not a day or a range of days")
            first = _day_index(m.group(1), part)
            last = _day_index(m.group(2), part) if m.group(2) else first
            span = (last - first) % 7
            indices += [(first + i) % 7 for i in range(span + 1)]
        intervals: list[Interval] = []
        if rest.lower() != "closed":
            for piece in rest.split(","):
                start_text, sep, end_text = piece.partition("-")
                if not sep:
                    raise HoursError(f"{part!r}: {piece.strip()!r} is not HH:MM-HH:MM")
                start = _minutes(start_text, repr(part))
                end = _minutes(end_text, repr(part))
                intervals.append((start, end))
            intervals.sort()
        for index in indices:
            if days[index] is not None:
                raise HoursError(f"{part!r}: {DAY_NAMES[index]} is given more than once")
            _check_day(DAY_NAMES[index], intervals)
            days[index] = intervals
    hours = WeekHours(tuple(tuple(d or ()) for d in days))
    if hours.never_open:
        raise HoursError(
            "the clinic is never open; review flags count open time and would never reach anyone"
        )
    return hours


def format_hours(hours: WeekHours) -> str:
    """The shortest text :func:`parse_hours` reads back as ``hours``: equal consecutive days
    as a range (``Mon-Fri 09:00-17:00; Sat 09:00-12:00``); closed days are left out."""
    parts = []
    i = 0
    while i < 7:
        j = i
        while j + 1 < 7 and hours.days[j + 1] == hours.days[i]:
            j += 1
        if hours.days[i]:
            names = DAY_NAMES[i] if i == j else f"{DAY_NAMES[i]}-{DAY_NAMES[j]}"
            parts.append(f"{names} {format_day(hours.days[i])}")
        i = j + 1
    return "; ".join(parts) or "closed"


def format_day(intervals: Sequence[Interval]) -> str:
    """One day's intervals as :func:`parse_hours` reads them (``09:00-12:00,13:00-17:00``),
    ``closed`` for none."""
    if not intervals:
        return "closed"
    return ",".join(f"{format_minutes(s)}-{format_minutes(e)}" for s, e in intervals)


def to_data(hours: WeekHours) -> dict[str, list[list[int]]]:
    """JSON for the clinic row: ``{"mon": [[540, 1020]], ..., "sun": []}``."""
    return {
        day: [list(i) for i in intervals] for day, intervals in zip(DAYS, hours.days, strict=True)
    }


def from_data(data: object) -> WeekHours:
    """The inverse of :func:`to_data`; None (a clinic that never set hours) is the default."""
    if data is None:
        return DEFAULT_HOURS
    if not isinstance(data, dict) or set(data) != set(DAYS):
        raise HoursError(f"opening hours: expected the keys {', '.join(DAYS)}")
    days = []
    for day in DAYS:
        value = data[day]
        if not isinstance(value, list) or not all(
            isinstance(i, list | tuple) and len(i) == 2 and all(type(x) is int for x in i)
            for i in value
        ):
            raise HoursError(f"opening hours: {day}: expected a list of [start, end] minutes")
        days.append(tuple((int(s), int(e)) for s, e in value))
    return WeekHours(tuple(days))


# --- deciding -------------------------------------------------------------------------------


def local_instant(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """The UTC instant when the wall clock in ``tz`` reads ``minutes`` after midnight of
    ``day`` (1440: the next midnight). A time skipped by a DST change: the instant the clock
    jumps past it. A repeated one: its first occurrence."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minutes)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        other = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
        return min(first, other)  # ambiguous: the earlier occurrence
    # skipped: fold=1 reads it with the offset after the change (an instant before the jump),
    # fold=0 with the one before it (after the jump); the jump lies between
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(low, first), max(low, first)
    seconds = int((high - low).total_seconds())
    lo, hi = 0, seconds  # the clock reads before ``naive`` at lo, at or after it at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (low + timedelta(seconds=mid)).astimezone(tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return low + timedelta(seconds=hi)


def open_periods(
    hours: WeekHours, tz: ZoneInfo, since: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The clinic's open periods ``[start, end)`` as UTC instants, in order, from the first
    one that ends after ``since``: one per interval of each day (periods of consecutive days
    may touch, as Mon 00:00-24:00 and Tue 00:00-...; they never overlap). Endless for a
    clinic that is open at all; empty for one that never is."""
    if hours.never_open:
        return
    day = since.astimezone(tz).date() - timedelta(days=1)
    while True:
        for start, end in hours.days[day.weekday()]:
            a, b = local_instant(day, start, tz), local_instant(day, end, tz)
            if a < b and b > since:  # (an interval can be lost entirely to a DST change)
                yield a, b
        day += timedelta(days=1)


def is_open(t: datetime, hours: WeekHours, tz: ZoneInfo) -> bool:
    """Whether the clinic is open at instant ``t``."""
    return next_open(t, hours, tz) == t


def next_open(t: datetime, hours: WeekHours, tz: ZoneInfo) -> datetime | None:
    """``t`` when the clinic is open then, else the instant it next opens (None: never)."""
    limit = t + timedelta(days=HORIZON_DAYS)
    for start, end in open_periods(hours, tz, t):
        if start > limit:
            return None
        if end > t:
            return max(start, t)
    return None


def open_deadline(t: datetime, delay: timedelta, hours: WeekHours, tz: ZoneInfo) -> datetime | None:
    """The instant when ``delay`` of open time has passed since ``t`` (``t`` itself for no
    delay, None for a clinic that is never open). Closed time does not count: a delay that
    runs out at closing is over then; one left at closing goes on when the clinic opens."""
    if delay <= timedelta(0):
        return t
    left = delay
    for start, end in open_periods(hours, tz, t):
        start = max(start, t)
        if end - start >= left:
            return start + left
        left -= end - start
    return None
