"""How a send is addressed and retried, for patients' texts and staff alerts alike.

Pure functions over plain values: the dispatcher and the alert sender both use them, so a
clinic's alerts leave from the same sender as its texts and both back off the same way.
"""

from __future__ import annotations

import random
from datetime import timedelta


def backoff(
    attempts: int, *, base: float = 30.0, cap: float = 3600.0, rng: random.Random | None = None
) -> timedelta:
    """Delay before retry number ``attempts`` (1-based): exponential, capped, with jitter.

    "Equal jitter": half the exponential delay is fixed, half random, so retries spread out
    (no thundering herd after a provider outage) yet never come back immediately.
    """
    exp = min(cap, base * (2 ** max(0, attempts - 1)))
    r = (rng or random).random()
    return timedelta(seconds=exp / 2 + r * exp / 2)


def sender_for(
    clinic_from: str | None,
    clinic_service: str | None,
    default_from: str | None,
    default_service: str | None,
) -> tuple[str | None, str | None]:
    """``(from_number, messaging_service_sid)`` for a clinic's texts, exactly one of them set
    when any sender is configured: the clinic's own sender wins (a messaging service over a
    number), else the process-wide default (likewise)."""
    if clinic_service:
        return None, clinic_service
    if clinic_from:
        return clinic_from, None
    if default_service:
        return None, default_service
    return default_from, None
