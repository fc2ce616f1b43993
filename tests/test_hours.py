"""followup.hours, pure: reading and writing opening hours, and the three decisions on them
(open at t, next opening, when open time runs out), against a minute-by-minute wall-clock
reference in zones with every kind of DST change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.hours import (
    DAY_MINUTES,
    DEFAULT_HOURS,
    HoursError,
    WeekHours,
    format_hours,
    from_data,
    is_open,
    local_instant,
    next_open,
    open_deadline,
    parse_hours,
    to_data,
)

ZONES = [
    "America/New_York",  # DST at 02:00
    "Europe/Berlin",  # DST at 02:00 / 03:00, last Sunday of March and October
    "Australia/Sydney",  # southern hemisphere
    "Australia/Lord_Howe",  # a 30-minute DST change
    "America/Santiago",  # DST changes at midnight
    "Asia/Kolkata",  # +05:30, no DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "UTC",
]
NY = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


# --- reading and writing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon-Fri 09:00-17:00", [[(540, 1020)]] * 5 + [[], []]),
        ("mon-fri 09:00-17:00; SAT 09:00-12:00", [[(540, 1020)]] * 5 + [[(540, 720)], []]),
        (
            "Mon, Wed 08:00-12:00,13:00-18:30",
            [[(480, 720), (780, 1110)], [], [(480, 720), (780, 1110)]] + [[]] * 4,
        ),
        (
            "Sat-Mon 10:00-14:00; Tue closed",
            [[(600, 840)], [], [], [], [], [(600, 840)], [(600, 840)]],
        ),
        ("Mon-Sun 00:00-24:00", [[(0, 1440)]] * 7),
        ("Fri 13:00-17:00,08:00-12:00", [[], [], [], [], [(480, 720), (780, 1020)], [], []]),
    ],
)
def test_it_reads_days_ranges_lists_and_several_intervals(text, days):
    assert parse_hours(text) == WeekHours(tuple(tuple(d) for d in days))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Mon", "expected days and hours"),
        ("09:00-17:00", "expected days and hours"),
        ("Mon 09:00", "is not HH:MM-HH:MM"),
        ("Xyz 09:00-10:00", "'Xyz' is not a day"),
        ("Monday 09:00-10:00", "is not a day or a range of days"),
        ("Mon 9-17", "'9' is not a time of day"),
        ("Mon 25:00-26:00", "'25:00' is not a time of day"),
        ("Mon 09:60-10:00", "is not a time of day"),
        ("Mon 24:30-24:40", "is not a time of day"),
        ("Mon 17:00-09:00", "the start must be before the end"),
        ("Mon 09:00-09:00", "the start must be before the end"),
        ("Mon 22:00-02:00", "split a night across two days"),
        ("Mon 09:00-12:00,11:00-13:00", "intervals overlap at 11:00"),
        ("Mon 09:00-10:00; Mon 11:00-12:00", "Mon is given more than once"),
        ("Mon-Fri 09:00-17:00; Wed 18:00-19:00", "Wed is given more than once"),
        ("Sun closed", "never open"),
        ("Mon-Sun closed", "never open"),
    ],
)
def test_it_refuses_hours_that_cannot_be_right_and_says_why(text, message):
    with pytest.raises(HoursError, match=message):
        parse_hours(text)


interval_lists = st.lists(
    st.tuples(st.integers(0, DAY_MINUTES - 1), st.integers(1, DAY_MINUTES)), max_size=3
).map(
    lambda pairs: tuple(
        sorted(
            {(min(a, b), max(a, b)) for a, b in pairs if min(a, b) < max(a, b)},
        )
    )
)


def _disjoint(intervals):
    out, end = [], -1
    for s, e in intervals:
        if s >= end:
            out.append((s, e))
            end = e
    return tuple(out)


weeks = (
    st.lists(interval_lists.map(_disjoint), min_size=7, max_size=7)
    .map(lambda days: WeekHours(tuple(days)))
    .filter(lambda w: not w.never_open)
)


@given(weeks)
def test_format_and_data_read_back_as_the_same_hours(week):
    assert parse_hours(format_hours(week)) == week
    assert from_data(to_data(week)) == week


def test_the_default_is_weekdays_nine_to_five_and_null_means_it():
    assert format_hours(DEFAULT_HOURS) == "Mon-Fri 09:00-17:00"
    assert from_data(None) == DEFAULT_HOURS


@pytest.mark.parametrize(
    "data",
    [{"mon": []}, [], {d: "x" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}],
)
def test_stored_data_of_another_shape_is_refused(data):
    with pytest.raises(HoursError):
        from_data(data)


# --- local times across DST -------------------------------------------------------------------


def test_a_skipped_local_time_is_the_instant_the_clock_jumps():
    # New York, 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00 UTC
    assert local_instant(datetime(2026, 3, 8).date(), 150, NY) == utc(2026, 3, 8, 7)
    assert local_instant(datetime(2026, 3, 8).date(), 120, NY) == utc(2026, 3, 8, 7)
    assert local_instant(datetime(2026, 3, 8).date(), 180, NY) == utc(2026, 3, 8, 7)


def test_a_repeated_local_time_is_its_first_occurrence():
    # New York, 2026-11-01: 01:00-02:00 happens twice, first in EDT (UTC-4)
    assert local_instant(datetime(2026, 11, 1).date(), 90, NY) == utc(2026, 11, 1, 5, 30)


def test_the_end_of_a_day_is_the_next_midnight():
    assert local_instant(datetime(2026, 3, 7).date(), DAY_MINUTES, NY) == utc(2026, 3, 8, 5)


# --- the decisions, by example ------------------------------------------------------------------


def test_a_flag_on_saturday_night_waits_for_monday_morning_plus_the_delay():
    saturday_night = local(NY, 2026, 3, 7, 23, 0)  # DST starts on the Sunday between
    assert not is_open(saturday_night, DEFAULT_HOURS, NY)
    assert next_open(saturday_night, DEFAULT_HOURS, NY) == local(NY, 2026, 3, 9, 9, 0)
    due = open_deadline(saturday_night, timedelta(hours=2), DEFAULT_HOURS, NY)
    assert due == local(NY, 2026, 3, 9, 11, 0)


@pytest.mark.parametrize(
    ("zone", "raised", "due"),
    [
        # Friday 16:30, two hours: half an hour on Friday, 90 minutes on Monday
        ("Europe/Berlin", (2026, 3, 27, 16, 30), (2026, 3, 30, 10, 30)),  # DST on the Sunday
        ("Australia/Sydney", (2026, 4, 3, 16, 30), (2026, 4, 6, 10, 30)),  # DST ends Sunday
        ("Asia/Kolkata", (2026, 6, 5, 16, 30), (2026, 6, 8, 10, 30)),
        # inside opening hours it is wall-clock time
        ("America/Los_Angeles", (2026, 6, 3, 10, 15), (2026, 6, 3, 12, 15)),
        # before opening: the delay starts at 09:00
        ("America/Chicago", (2026, 6, 3, 6, 0), (2026, 6, 3, 11, 0)),
        # after closing on a weekday: the next morning
        ("America/Chicago", (2026, 6, 3, 20, 0), (2026, 6, 4, 11, 0)),
    ],
)
def test_open_time_runs_only_while_the_clinic_is_open(zone, raised, due):
    tz = ZoneInfo(zone)
    got = open_deadline(local(tz, *raised), timedelta(hours=2), DEFAULT_HOURS, tz)
    assert got == local(tz, *due)


def test_a_delay_that_ends_at_closing_is_over_at_closing():
    tz = NY
    friday = local(tz, 2026, 6, 5, 15, 0)
    assert open_deadline(friday, timedelta(hours=2), DEFAULT_HOURS, tz) == local(tz, 2026, 6, 5, 17)
    assert open_deadline(friday, timedelta(0), DEFAULT_HOURS, tz) == friday


def test_lunch_breaks_do_not_count():
    week = parse_hours("Mon-Fri 09:00-12:00,13:00-17:00")
    got = open_deadline(local(NY, 2026, 6, 3, 11, 30), timedelta(hours=1), week, NY)
    assert got == local(NY, 2026, 6, 3, 13, 30)
    assert next_open(local(NY, 2026, 6, 3, 12, 15), week, NY) == local(NY, 2026, 6, 3, 13)


def test_a_clinic_open_around_the_clock_counts_every_hour_even_across_dst():
    always = parse_hours("Mon-Sun 00:00-24:00")
    start = local(NY, 2026, 3, 7, 12).astimezone(UTC)  # (UTC: aware arithmetic is real time)
    assert open_deadline(start, timedelta(hours=48), always, NY) == start + timedelta(hours=48)
    assert is_open(utc(2026, 3, 8, 7), always, NY)


def test_a_week_never_open_has_no_opening_and_no_deadline():
    closed = WeekHours(((),) * 7)
    assert next_open(utc(2026, 1, 1), closed, NY) is None
    assert open_deadline(utc(2026, 1, 1), timedelta(hours=1), closed, NY) is None
    assert not is_open(utc(2026, 1, 1), closed, NY)


# --- the decisions, exhaustively against a wall-clock reference ----------------------------------


def wall_open(t: datetime, week: WeekHours, tz: ZoneInfo) -> bool:
    """The reference: the wall clock at ``t`` reads a time inside one of the day's intervals."""
    wall = t.astimezone(tz)
    minute = wall.hour * 60 + wall.minute
    return any(s <= minute < e for s, e in week.days[wall.weekday()])


# instants within a few days of the 2026 DST changes of the zones above, on whole minutes
DST_DAYS = [
    utc(2026, 3, 8), utc(2026, 3, 29), utc(2026, 4, 5), utc(2026, 9, 6), utc(2026, 9, 27),
    utc(2026, 10, 4), utc(2026, 10, 25), utc(2026, 11, 1), utc(2026, 6, 15),
]  # fmt: skip
instants = st.tuples(st.sampled_from(DST_DAYS), st.integers(-4 * 1440, 4 * 1440)).map(
    lambda p: p[0] + timedelta(minutes=p[1])
)


@given(weeks, st.sampled_from(ZONES), instants)
def test_is_open_is_the_wall_clock_outside_a_repeated_hour(week, zone, t):
    tz = ZoneInfo(zone)
    # the second pass of a repeated hour belongs to the interval its first pass was in
    if t.astimezone(tz).fold == 0:
        assert is_open(t, week, tz) == wall_open(t, week, tz)


@given(weeks, st.sampled_from(ZONES), instants)
def test_next_open_is_the_first_open_instant_from_t(week, zone, t):
    tz = ZoneInfo(zone)
    opens = next_open(t, week, tz)
    assert opens is not None and opens >= t
    assert is_open(opens, week, tz)
    if opens > t:
        assert not is_open(opens - timedelta(seconds=1), week, tz)
        # nothing open in between: checked every minute (boundaries fall on whole minutes)
        probe = t
        while probe < opens:
            assert not is_open(probe, week, tz)
            probe += timedelta(minutes=1 if opens - t < timedelta(hours=3) else 17)


@given(weeks, st.sampled_from(ZONES), instants, st.integers(1, 300))
def test_open_deadline_counts_exactly_the_open_minutes(week, zone, t, minutes):
    tz = ZoneInfo(zone)
    due = open_deadline(t, timedelta(minutes=minutes), week, tz)
    assert due is not None and due > t
    counted, probe = 0, t
    while probe < due:
        counted += is_open(probe, week, tz)
        probe += timedelta(minutes=1)
    assert counted == minutes
    assert is_open(due - timedelta(minutes=1), week, tz)
