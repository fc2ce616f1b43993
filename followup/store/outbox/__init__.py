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

__all__ = [
    "ALLOWED",
    "Accepted",
    "TransitionError",
    "add_events",
    "claim_due",
    "mark_sent",
    "reclaim_expired",
    "release",
    "set_bodies",
    "transition",
]
