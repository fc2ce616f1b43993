"""The pure nudge rules (followup.outbound.nudging), with hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.oracle import in_hours

from followup.outbound.careplan import DEFAULT_PLAN
from followup.outbound.nudging import (
    ANSWERED,
    PENDING,
    SentCheckin,
    SentNudge,
    nudge_for,
    nudged,
    staff_reason,
)
from followup.outbound.timing import SendWindow

NY = ZoneInfo("America/New_York")
SENT = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # 10:00 in New York


def checkin(**kw) -> SentCheckin:
    values = dict(
        step="checkin_24h", template="checkin_24h_breathing", sent_at=SENT, opted_out=False,
        consent=True, answered=False, superseded=False,
    )  # fmt: skip
    return SentCheckin(**{**values, **kw})


def test_only_the_safety_variant_of_the_nudged_step_is_nudged():
    assert nudged(DEFAULT_PLAN, "checkin_24h", "checkin_24h_breathing")
    assert not nudged(DEFAULT_PLAN, "checkin_24h", "checkin_24h")
    assert not nudged(DEFAULT_PLAN, "checkin_72h", "checkin_72h")
    assert not nudged(DEFAULT_PLAN, "aftercare", "aftercare")
    assert nudge_for(checkin(template="checkin_24h"), DEFAULT_PLAN, NY, SendWindow(), SENT) is None


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"opted_out": True, "answered": True}, "opted out"),
        ({"consent": False}, "no consent"),
        ({"answered": True}, ANSWERED),
        ({"superseded": True}, "superseded: by a newer session"),
    ],
)
def test_a_nudge_is_skipped_with_its_reason(facts, reason):
    d = nudge_for(checkin(**facts), DEFAULT_PLAN, NY, SendWindow(), SENT)
    assert (d.status, d.reason) == ("skipped", reason)


def test_a_nudge_written_too_late_is_skipped_as_too_late():
    now = SENT + timedelta(days=2)
    d = nudge_for(checkin(), DEFAULT_PLAN, NY, SendWindow(), now)
    assert d.status == "skipped" and d.reason.startswith("too late")


ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"]


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1)),
    st.sampled_from(ZONES),
    st.sampled_from([SendWindow(), SendWindow(9 * 60, 17 * 60), SendWindow(8 * 60, 21 * 60)]),
    st.integers(min_value=0, max_value=60 * 30),
)
def test_a_scheduled_nudge_is_after_its_wait_inside_quiet_hours_and_its_window(
    sent, zone, window, lag
):
    tz = ZoneInfo(zone)
    sent_at = sent.replace(tzinfo=tz).astimezone(UTC)
    now = sent_at + timedelta(minutes=lag)
    d = nudge_for(checkin(sent_at=sent_at), DEFAULT_PLAN, tz, window, now)
    assert d.due_at == sent_at + DEFAULT_PLAN.nudge.after
    if d.status == "scheduled":
        assert d.reason == PENDING
        assert d.send_at >= max(d.due_at, now)
        assert d.send_at <= d.expires_at
        assert in_hours(d.send_at, tz, window.start, window.end)
    else:
        assert d.reason.startswith("too late")
        # the 16 h window always holds a sending time: only a run hours late finds none
        assert now > d.due_at


@pytest.mark.parametrize(
    ("nudge", "hours", "tells"),
    [
        (SentNudge("sent", None, SENT, False), 3.9, False),
        (SentNudge("sent", None, SENT, False), 4, True),
        (SentNudge("delivered", None, SENT, False), 9, True),
        (SentNudge("delivered", None, SENT, True), 9, False),
        (SentNudge("undelivered", "30003", SENT, False), 5, True),
        (SentNudge("failed", "21211", None, False), 0, True),
        (SentNudge("skipped", "too late: window ended", None, False), 0, True),
        (SentNudge("skipped", ANSWERED, None, False), 9, False),
        (SentNudge("skipped", "opted out", None, False), 9, False),
        (SentNudge("skipped", "superseded: by a newer session", None, False), 9, False),
    ],
)
def test_staff_are_told_when_the_nudge_gets_no_answer_or_cannot_go(nudge, hours, tells):
    reason = staff_reason(nudge, DEFAULT_PLAN, SENT + timedelta(hours=hours))
    assert (reason is not None) == tells
    if tells:
        assert reason.startswith("no answer")
