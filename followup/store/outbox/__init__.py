"""The outbox: the only writer of outbound message state.

- :mod:`~followup.store.outbox.machine`: the state machine (allowed moves, one event per move).
- :mod:`~followup.store.outbox.claims`: claim, recover, release and record sends.

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

__all__ = [
    "ALLOWED",
    "Accepted",
    "LastLook",
    "LastLookReader",
    "TransitionError",
    "add_events",
    "claim_due",
    "claimed_texts",
    "fail_claimed",
    "mark_sent",
    "planned_rows",
    "reclaim_expired",
    "release",
    "retry_claimed",
    "set_bodies",
    "skip_claimed",
    "texted_patients",
    "transition",
    "write_plan",
]
