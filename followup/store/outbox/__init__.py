"""The outbox: the only writer of outbound message state.

- :mod:`~followup.store.outbox.machine`: the state machine (allowed moves, one event per move).
- :mod:`~followup.store.outbox.claims`: claim, recover, release and record sends.
- :mod:`~followup.store.outbox.waiting`: texts of a clinic without staff alert destinations.

Everything that changes a text's status goes through these modules; callers import the names
below.
"""

from followup.store.outbox.claims import (
    Accepted,
    claim_due,
    mark_sent,
    reclaim_expired,
    release,
    set_bodies,
)
from followup.store.outbox.machine import ALLOWED, TransitionError, add_events, transition
from followup.store.outbox.outcomes import fail_claimed, retry_claimed, skip_claimed
from followup.store.outbox.planning import planned_rows, texted_patients, write_plan
from followup.store.outbox.sending import LastLook, LastLookReader, claimed_texts
from followup.store.outbox.waiting import NO_ALERT_DESTINATION, hold_due, release_waiting

__all__ = [
    "ALLOWED",
    "NO_ALERT_DESTINATION",
    "Accepted",
    "LastLook",
    "LastLookReader",
    "TransitionError",
    "add_events",
    "claim_due",
    "claimed_texts",
    "fail_claimed",
    "hold_due",
    "mark_sent",
    "planned_rows",
    "reclaim_expired",
    "release",
    "release_waiting",
    "retry_claimed",
    "set_bodies",
    "skip_claimed",
    "texted_patients",
    "transition",
    "write_plan",
]
