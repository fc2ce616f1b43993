"""Timing rules: send window, DST, caps. Exhaustive around DST changes, and with hypothesis."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.oracle import in_hours

from followup.outbound.timing import (
    CapCounter,
    Caps,
    SendWindow,
    find_slot,
    local_wall_time,
    next_allowed,
    shift_local,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # 30-minute DST shift
ZONES = [
    NY,
    LONDON,
    LORD_HOWE,
    ZoneInfo("America/Santiago"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Pacific/Chatham"),
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/St_Johns"),
    ZoneInfo("UTC"),
]
DEFAULT = SendWindow()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def test_it_keeps_a_time_inside_the_window():
    t = utc(2026, 3, 10, 15, 0)  # 11:00 in New York
    assert next_allowed(t, NY, DEFAULT) == t


def test_it_defers_an_evening_time_to_the_next_morning():
    t = utc(2026, 3, 11, 1, 30)  # 21:30 on the 10th in New York
    assert local(next_allowed(t, NY, DEFAULT), NY) == "2026-03-11 08:00"


def test_it_defers_an_early_time_to_the_same_morning():
    t = utc(2026, 3, 10, 10, 0)  # 06:00 in New York
    assert local(next_allowed(t, NY, DEFAULT), NY) == "2026-03-10 08:00"


def test_the_window_end_is_exclusive():
    t = local_wall_time(date(2026, 3, 10), 20 * 60, NY)
    assert local(next_allowed(t, NY, DEFAULT), NY) == "2026-03-11 08:00"
    just_before = t - timedelta(seconds=1)
    assert next_allowed(just_before, NY, DEFAULT) == just_before


def test_a_wall_time_in_the_spring_gap_becomes_the_end_of_the_gap():
    t = local_wall_time(date(2026, 3, 8), 2 * 60 + 30, NY)  # 02:30 does not exist that day
    assert local(t, NY) == "2026-03-08 03:00"


def test_an_ambiguous_wall_time_takes_its_first_occurrence():
    t = local_wall_time(date(2026, 11, 1), 1 * 60 + 30, NY)  # 01:30 happens twice
    assert t == utc(2026, 11, 1, 5, 30)  # EDT, the first one


def test_a_window_starting_inside_the_gap_still_sends_on_that_day():
    window = SendWindow(start=2 * 60 + 15, end=20 * 60)
    t = utc(2026, 3, 8, 5, 0)  # 00:00 EST on the gap day
    assert local(next_allowed(t, NY, window), NY) == "2026-03-08 03:00"


def test_a_window_wholly_inside_a_gap_moves_to_the_next_day():
    santiago = ZoneInfo("America/Santiago")  # 6 Sept 2026: 00:00 -> 01:00
    t = utc(2026, 9, 6, 3, 0)  # 23:00 on the 5th
    at = next_allowed(t, santiago, SendWindow(0, 60))
    assert local(at, santiago) == "2026-09-07 00:00"


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # across spring forward (New York, 8 March 2026): same local time, 23 h later
        ("2026-03-07 10:00", "2026-03-08 10:00"),
        # across fall back (1 November 2026): same local time, 25 h later
        ("2026-10-31 10:00", "2026-11-01 10:00"),
    ],
)
def test_a_local_day_is_the_same_wall_time_tomorrow(start: str, expected: str):
    anchor = datetime.fromisoformat(start).replace(tzinfo=NY)
    assert local(shift_local(anchor, timedelta(days=1), NY), NY) == expected


def test_shift_local_keeps_seconds():
    anchor = datetime(2026, 3, 7, 10, 0, 42, tzinfo=NY)
    assert shift_local(anchor, timedelta(days=1), NY).astimezone(NY).second == 42


def test_caps_one_a_day_and_three_a_week():
    counter = CapCounter(NY, Caps(1, 3))
    day = date(2026, 3, 2)
    counter.add(local_wall_time(day, 600, NY))
    assert not counter.has_room(day)
    assert counter.has_room(day + timedelta(days=1))
    counter.add(local_wall_time(day + timedelta(days=2), 600, NY))
    counter.add(local_wall_time(day + timedelta(days=4), 600, NY))
    # days 0, 2 and 4 are used: a day within 7 days of all three would make 4 in a week
    for k in range(-2, 7):
        assert not counter.has_room(day + timedelta(days=k)), k
    assert counter.has_room(day + timedelta(days=7))  # days 2, 4, 7: three in [1, 7]
    assert counter.has_room(day - timedelta(days=3))  # days -3, 0, 2: three in [-3, 3]


def test_find_slot_reports_too_late_when_the_window_rules_out_everything():
    t = utc(2026, 3, 11, 1, 0)  # 21:00 in New York
    counter = CapCounter(NY, Caps())
    at, why = find_slot(t, t + timedelta(hours=3), NY, DEFAULT, counter)
    assert (at, why) == (None, "too late")


def test_find_slot_reports_cap_when_the_caps_rule_out_everything():
    t = utc(2026, 3, 10, 15, 0)
    counter = CapCounter(NY, Caps(), [t - timedelta(hours=1)])
    at, why = find_slot(t, t + timedelta(hours=20), NY, DEFAULT, counter)
    assert (at, why) == (None, "cap")
    at, why = find_slot(t, t + timedelta(hours=30), NY, DEFAULT, counter)
    assert why is None
    assert local(at, NY) == "2026-03-11 08:00"


# --- properties -------------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
# instants within two days of a DST change in each zone, where the bugs live
dst_days = st.sampled_from(
    [
        datetime(2026, 3, 8, 7),
        datetime(2026, 11, 1, 6),
        datetime(2026, 3, 29, 1),
        datetime(2026, 10, 25, 1),
        datetime(2026, 4, 5, 2),
        datetime(2026, 10, 4, 2),
        datetime(2026, 4, 4, 15),
        datetime(2026, 9, 6, 3),
    ]
)
near_dst = st.builds(
    lambda d, minutes: (d + timedelta(minutes=minutes)).replace(tzinfo=UTC),
    dst_days,
    st.integers(min_value=-48 * 60, max_value=48 * 60),
)
any_instant = st.one_of(instants, near_dst)
# Windows open from 04:00 on: DST changes happen between midnight and 03:00, and a window that
# lies wholly inside a gap (Santiago jumps 00:00 -> 01:00) has no minute at all on that day.
windows = st.builds(
    lambda s, length: SendWindow(s, min(24 * 60, s + length)),
    st.integers(min_value=4 * 60, max_value=22 * 60),
    st.integers(min_value=60, max_value=14 * 60),
)


@settings(max_examples=400)
@given(t=any_instant, tz=st.sampled_from(ZONES), window=windows)
def test_next_allowed_is_inside_the_window_and_never_earlier(t, tz, window):
    at = next_allowed(t, tz, window)
    assert at >= t
    assert in_hours(at, tz, window.start, window.end)
    # and it is the first such minute: one minute earlier is either before t or outside
    before = at - timedelta(minutes=1)
    assert before < t or not in_hours(before, tz, window.start, window.end)
    # a day is never lost: at most one local day later than t
    assert (at.astimezone(tz).date() - t.astimezone(tz).date()).days <= 1


@settings(max_examples=300)
@given(t=any_instant, tz=st.sampled_from(ZONES), days=st.integers(min_value=0, max_value=7))
def test_shift_local_moves_by_whole_local_days(t, tz, days):
    moved = shift_local(t, timedelta(days=days), tz)
    a, b = t.astimezone(tz), moved.astimezone(tz)
    assert (b.date() - a.date()).days == days
    # same wall time unless that wall time does not exist on the target day (then later)
    if (b.hour, b.minute) != (a.hour, a.minute):
        assert b.replace(tzinfo=None).time() > a.replace(tzinfo=None).time()


@settings(max_examples=300)
@given(
    times=st.lists(any_instant, min_size=1, max_size=12),
    tz=st.sampled_from(ZONES),
    window=windows,
    caps=st.sampled_from([Caps(1, 3), Caps(2, 5), Caps(1, 1)]),
)
def test_find_slot_never_breaks_caps_or_quiet_hours(times, tz, window, caps):
    counter = CapCounter(tz, caps)
    placed = []
    for t in sorted(times):
        at, why = find_slot(t, t + timedelta(days=10), tz, window, counter)
        if at is None:
            assert why in ("cap", "too late")
            continue
        assert at >= t
        assert in_hours(at, tz, window.start, window.end)
        counter.add(at)
        placed.append(at)
    per_day: dict[date, int] = {}
    for at in placed:
        d = at.astimezone(tz).date()
        per_day[d] = per_day.get(d, 0) + 1
    assert max(per_day.values()) <= caps.max_per_day
    for d in per_day:
        week = sum(per_day.get(d + timedelta(days=k), 0) for k in range(7))
        assert week <= caps.max_per_week
