"""How many failed logins are allowed before the next attempt waits. Pure.

Guessing a password online needs many tries; a person who mistypes needs few. So an account
(by the e-mail tried) gets :data:`PER_ACCOUNT` failures in :data:`WINDOW`, and a client
address :data:`PER_CLIENT` (one address trying many accounts); past either, attempts are
refused until the oldest failure in the window is older than the window. A refused attempt
is not checked against the password at all, so it cannot be used to guess either, and it is
not counted (a locked-out owner is not kept out longer by trying again).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_CLIENT = 20


def retry_at(
    account_failures: Sequence[datetime], client_failures: Sequence[datetime], now: datetime
) -> datetime | None:
    """None when a login may be tried at ``now``; else when it may be tried again. The
    failures are those since ``now - WINDOW`` (older ones do not count)."""
    waits = []
    for failures, limit in ((account_failures, PER_ACCOUNT), (client_failures, PER_CLIENT)):
        recent = sorted(t for t in failures if t > now - WINDOW)
        if len(recent) >= limit:
            # the attempt may go when enough of them have aged out of the window
            waits.append(recent[len(recent) - limit] + WINDOW)
    return max(waits) if waits else None
