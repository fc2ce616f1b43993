"""The outbox state machine, every pair of states: an allowed move updates the row and writes
exactly one event; a refused move raises and writes nothing; a stale or guarded move changes
nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from support.seeding import aftercares, seed_treated

from followup.store.models import MessageEvent, OutboundMessage
from followup.store.outbox import ALLOWED, TransitionError, transition
from followup.store.statuses import MessageStatus

T0 = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
AT = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
PAIRS = list(itertools.product(MessageStatus, MessageStatus))
#: the moves the outbox is designed to make (docs/sending.md); anything else must be refused
EXPECTED = {
    ("scheduled", "sending"), ("scheduled", "skipped"), ("scheduled", "scheduled"),
    ("sending", "sending"), ("sending", "sent"), ("sending", "failed"), ("sending", "scheduled"),
    ("sending", "skipped"), ("sending", "delivered"), ("sending", "undelivered"),
    ("sent", "delivered"), ("sent", "undelivered"), ("sent", "failed"),
    ("undelivered", "delivered"), ("failed", "delivered"), ("skipped", "scheduled"),
}  # fmt: skip


@pytest.fixture
def text_in(sessions):
    """A function that puts the Harbor aftercare text in a given status (bypassing the
    machine, as a fixture may) and returns its id and its event count so far."""
    seed_treated(sessions, ["+12015550123"], T0, first_name="Ana")
    message_id = aftercares(sessions)[0].id

    def put(status: str) -> tuple[int, int]:
        with sessions() as db, db.begin():
            db.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id)
                .values(status=status, claimed_by="w1")
            )
            events = db.scalar(select(func.count()).where(MessageEvent.message_id == message_id))
        return message_id, events

    return put


def _state(sessions, message_id: int) -> tuple[str, list[tuple]]:
    with sessions() as db:
        status = db.scalar(select(OutboundMessage.status).where(OutboundMessage.id == message_id))
        events = db.execute(
            select(
                MessageEvent.from_status,
                MessageEvent.to_status,
                MessageEvent.reason,
                MessageEvent.actor,
                MessageEvent.at,
            )
            .where(MessageEvent.message_id == message_id)
            .order_by(MessageEvent.id)
        ).all()
    return status, [tuple(e) for e in events]


def test_the_allowed_moves_are_the_designed_ones():
    assert {(a, b) for a, targets in ALLOWED.items() for b in targets} == EXPECTED


@pytest.mark.parametrize(("from_status", "to_status"), PAIRS, ids=lambda s: str(s))
def test_every_move_is_made_with_one_event_or_refused_with_none(
    text_in, sessions, from_status, to_status
):
    message_id, before = text_in(from_status)
    if (from_status, to_status) in EXPECTED:
        with sessions() as db, db.begin():
            moved = transition(
                db, message_id, from_status, to_status, at=AT, reason="why", actor="tester"
            )
        assert moved is True
        status, events = _state(sessions, message_id)
        assert status == to_status
        assert len(events) == before + 1
        assert events[-1] == (from_status, to_status, "why", "tester", AT)
    else:
        with sessions() as db, db.begin(), pytest.raises(TransitionError):
            transition(db, message_id, from_status, to_status, at=AT)
        status, events = _state(sessions, message_id)
        assert status == from_status
        assert len(events) == before


def test_a_move_from_a_state_the_row_has_left_changes_nothing(text_in, sessions):
    message_id, before = text_in("sent")
    with sessions() as db, db.begin():
        assert transition(db, message_id, "sending", "failed", at=AT) is False
    status, events = _state(sessions, message_id)
    assert status == "sent"
    assert len(events) == before


def test_a_failing_guard_changes_nothing(text_in, sessions):
    message_id, before = text_in("sending")
    with sessions() as db, db.begin():
        moved = transition(
            db,
            message_id,
            "sending",
            "sent",
            at=AT,
            guard=(OutboundMessage.claimed_by == "another worker",),
        )
    assert moved is False
    status, events = _state(sessions, message_id)
    assert status == "sending"
    assert len(events) == before
