"""Queueing a flag's alerts: which flags page staff, and where each alert goes.

Called by the webhook that raised the flag, in its transaction, so the flag and its alerts
are committed together or not at all; the sender delivers them after the commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from followup.staff.alerts.wording import ALERTED_KINDS
from followup.store import alerts as store
from followup.store.clinics import alert_destinations
from followup.store.statuses import AlertChannel


def destinations(clinic: Any) -> list[tuple[AlertChannel, str]]:
    """``(channel, destination)`` of each place ``clinic``'s alerts go: its on-call phone
    first, then each Apprise URL once (blanks and repeats are ignored)."""
    return alert_destinations(clinic.oncall_phone, clinic.alert_urls)


def queue_alerts(
    db: Session | Connection,
    *,
    flag_id: int,
    flag_kind: str,
    clinic: Any,
    now: datetime,
    page: bool = False,
) -> int:
    """Queue one ``pending`` alert per destination of ``clinic`` for the flag: a text to its
    on-call phone, a notification to each of its Apprise URLs, all due ``now``.

    Nothing for a kind outside :data:`ALERTED_KINDS` (review flags wait in the inbox) unless
    ``page`` (a review flag the outbox raised: a safety text held back, a nudge unanswered),
    for a flag without a clinic, or for a clinic without destinations. Runs in the caller's
    transaction, so the flag and its alerts are committed together or not at all. Returns
    the number of rows added.
    """
    if (flag_kind not in ALERTED_KINDS and not page) or clinic is None:
        return 0
    return store.queue_pending(
        db, flag_id=flag_id, clinic_id=clinic.id, destinations=destinations(clinic), now=now
    )


def queue_fallback_alert(
    db: Session | Connection,
    *,
    flag_id: int,
    flag_kind: str,
    destination: str,
    now: datetime,
) -> int:
    """Queue a text to ``destination`` (FOLLOWUP_FALLBACK_ALERT_TO) for an urgent flag no
    clinic can be given: a number no clinic behind the sender it texted has on file. The
    row has no clinic; the alert says "shared number" where it would name one, and carries
    nothing of what the sender wrote. Kinds outside :data:`ALERTED_KINDS` wait in
    ``followup replies``. Returns the number of rows added (0 or 1)."""
    if flag_kind not in ALERTED_KINDS:
        return 0
    return store.queue_pending(
        db, flag_id=flag_id, clinic_id=None, destinations=[(AlertChannel.SMS, destination)], now=now
    )
