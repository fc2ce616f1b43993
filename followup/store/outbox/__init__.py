"""The outbox: the only writer of outbound message state.

- :mod:`~followup.store.outbox.machine`: the state machine (allowed moves, one event per move).
- :mod:`~followup.store.outbox.claims`: claim, recover, release and record sends.
- :mod:`~followup.store.outbox.waiting`: texts of a clinic without staff alert destinations.
- :mod:`~followup.store.outbox.nudges`: the nudges of unanswered safety check-ins.
- :mod:`~followup.store.outbox.staff_texts`: free-form texts staff write to a patient.

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
from followup.store.outbox.nudges import (
    NUDGE_STEP,
    add_nudges,
    clinic_plans,
    nudges_to_follow,
    sent_checkins,
    skip_waiting_nudges,
)
from followup.store.outbox.outcomes import (
    defer_claimed,
    fail_claimed,
    retry_claimed,
    skip_claimed,
)
from followup.store.outbox.planning import planned_rows, texted_patients, write_plan
from followup.store.outbox.sending import LastLook, LastLookReader, claimed_texts
from followup.store.outbox.staff_texts import STAFF_TEMPLATE, is_staff_text
from followup.store.outbox.waiting import NO_ALERT_DESTINATION, hold_due, release_waiting

__all__ = [
    "ALLOWED",
    "NO_ALERT_DESTINATION",
    "NUDGE_STEP",
    "STAFF_TEMPLATE",
    "Accepted",
    "LastLook",
    "LastLookReader",
    "TransitionError",
    "add_events",
    "add_nudges",
    "claim_due",
    "claimed_texts",
    "clinic_plans",
    "defer_claimed",
    "fail_claimed",
    "hold_due",
    "is_staff_text",
    "mark_sent",
    "nudges_to_follow",
    "planned_rows",
    "reclaim_expired",
    "release",
    "release_waiting",
    "retry_claimed",
    "sent_checkins",
    "set_bodies",
    "skip_claimed",
    "skip_waiting_nudges",
    "texted_patients",
    "transition",
    "write_plan",
]
