"""Independent answers for tests to judge timing with, written apart from the code under test
(a boundary mistake in :class:`followup.outbound.timing.SendWindow` must not also be in the
judge)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_minute(t: datetime, tz: ZoneInfo) -> int:
    """Minutes after local midnight on the recipient's wall clock."""
    local = t.astimezone(tz)
    return local.hour * 60 + local.minute


def in_hours(t: datetime, tz: ZoneInfo, start: int, end: int) -> bool:
    """Whether ``t`` falls in local hours ``[start, end)`` (minutes after midnight): 08:00 is
    inside an 08:00-20:00 window, 20:00 is not."""
    return start <= local_minute(t, tz) < end
