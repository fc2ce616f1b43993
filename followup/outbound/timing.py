"""Pure timing rules: time zones, the daily send window (quiet hours) and per-patient caps.

Everything takes and returns timezone-aware UTC datetimes; local time exists only inside these
functions. Rules, each property-tested in tests/outbound/test_timing.py:

- A text is only sent inside the recipient's send window, ``[start, end)`` local time
  (default 08:00-20:00). A text due outside it moves to the next allowed minute; it is never
  dropped by this rule and never moves earlier.
- DST: wall-clock times that do not exist (the spring gap) resolve to the first instant after the
  gap; times that occur twice (the autumn overlap) take the first occurrence. Each candidate
  instant is checked again in local time, so no rule of thumb about offsets is trusted.
- Caps: at most ``max_per_day`` texts on any local calendar day and ``max_per_week`` in any 7
  consecutive local days (the FCC health-care exemption). A text that would break them moves to
  the start of the send window on the next day that has room.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MIN = timedelta(minutes=1)


@dataclass(frozen=True)
class SendWindow:
    """Allowed local sending time, in minutes after midnight: ``start <= t < end``."""

    start: int = 8 * 60
    end: int = 20 * 60

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= 24 * 60:
            raise ValueError(f"send window must satisfy 0 <= start < end <= 1440: {self}")

    def contains_local(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return self.start <= minute < self.end


def local_wall_time(day: date, minute_of_day: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time; a time inside a DST gap becomes the first
    instant after the gap, an ambiguous one its first occurrence."""
    naive = datetime.combine(day, time(minute_of_day // 60, minute_of_day % 60))
    return _localize(naive, tz)


def _localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """UTC instant of a naive local time (see :func:`local_wall_time` for gaps and folds)."""
    if naive.fold:
        naive = naive.replace(fold=0)
    offset = tz.utcoffset(naive)
    if offset == tz.utcoffset(naive.replace(fold=1)):
        # the usual case: one offset, neither gap nor overlap
        return (naive - offset).replace(tzinfo=UTC)
    instant = naive.replace(tzinfo=tz).astimezone(UTC)
    back = instant.astimezone(tz).replace(tzinfo=None)
    if back != naive:  # a gap: fold=0 used the offset before the gap; snap to the gap's end
        later = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
        instant = min(instant, later)
        # the first instant whose local time is at or after the requested wall time
        while instant.astimezone(tz).replace(tzinfo=None) < naive:
            instant += _MIN
        while (instant - _MIN).astimezone(tz).replace(tzinfo=None) >= naive:
            instant -= _MIN
    return instant


def shift_local(anchor: datetime, offset: timedelta, tz: ZoneInfo) -> datetime:
    """``anchor`` moved by ``offset`` on the local wall clock: "+1 day" is tomorrow at the same
    local time even when tomorrow is 23 or 25 hours away."""
    local = anchor.astimezone(tz).replace(tzinfo=None) + offset
    return _localize(local, tz)


def next_allowed(t: datetime, tz: ZoneInfo, window: SendWindow) -> datetime:
    """The earliest instant at or after ``t`` that lies inside the local send window."""
    local = t.astimezone(tz)
    if window.contains_local(local):
        return t
    day = local.date()
    minute = local.hour * 60 + local.minute
    if minute >= window.start:
        day += timedelta(days=1)
    for _ in range(4):  # a zone could skip a whole window only through a day-long jump
        candidate = local_wall_time(day, window.start, tz)
        if candidate >= t and window.contains_local(candidate.astimezone(tz)):
            return candidate
        day += timedelta(days=1)
    raise ValueError(f"no sending time found after {t.isoformat()} in {tz.key}")


def day_start_allowed(day: date, tz: ZoneInfo, window: SendWindow) -> datetime:
    """The first allowed instant on local ``day``."""
    return next_allowed(local_wall_time(day, window.start, tz), tz, window)


@dataclass(frozen=True)
class Caps:
    max_per_day: int = 1
    max_per_week: int = 3


class CapCounter:
    """Texts per local day for one patient, answering "is there room on this day?".

    Days are kept as proleptic ordinals (ints): the planner asks this for every text it
    places, and integer arithmetic keeps it cheap.
    """

    def __init__(self, tz: ZoneInfo, caps: Caps, instants: Iterable[datetime] = ()) -> None:
        self.tz = tz
        self.max_per_day = caps.max_per_day
        self.max_per_week = caps.max_per_week
        self.per_day: dict[int, int] = {}
        self._last: tuple[datetime | None, date | None] = (None, None)
        for t in instants:
            self.add(t)

    def local_day(self, t: datetime) -> date:
        last_t, last_day = self._last
        if t is last_t:  # find_slot asks for the day of the instant that add() then records
            return last_day
        day = t.astimezone(self.tz).date()
        self._last = (t, day)
        return day

    def add(self, t: datetime) -> None:
        day = self.local_day(t).toordinal()
        self.per_day[day] = self.per_day.get(day, 0) + 1

    def has_room(self, day: date) -> bool:
        per_day = self.per_day
        if not per_day:
            return True
        ordinal = day.toordinal()
        if per_day.get(ordinal, 0) >= self.max_per_day:
            return False
        # Fast path: every 7-day span holding ``day`` lies within 6 days of it.
        near = 0
        for d, n in per_day.items():
            if -6 <= d - ordinal <= 6:
                near += n
        if near + 1 <= self.max_per_week:
            return True
        counts = [per_day.get(ordinal + k, 0) for k in range(-6, 7)]
        counts[6] += 1  # the text we would add
        return all(sum(counts[i : i + 7]) <= self.max_per_week for i in range(7))


def find_slot(
    earliest: datetime,
    latest: datetime,
    tz: ZoneInfo,
    window: SendWindow,
    counter: CapCounter | None,
) -> tuple[datetime | None, str | None]:
    """Where a text due at ``earliest`` can go: ``(instant, None)``, or ``(None, why)`` when no
    allowed instant with room under the caps exists before ``latest``.

    ``why`` is ``"too late"`` when the send window alone rules out every instant before
    ``latest`` and ``"cap"`` when the caps did. Without a ``counter`` (a safety text, which
    the caps never hold back) only the send window counts.
    """
    t = next_allowed(earliest, tz, window)
    if t > latest:
        return None, "too late"
    if counter is None:
        return t, None
    while t <= latest:
        day = counter.local_day(t)
        if counter.has_room(day):
            return t, None
        t = day_start_allowed(day + timedelta(days=1), tz, window)
    return None, "cap"
