"""followup.store.outbox.outcomes directly, on SQLite and PostgreSQL: what failing, skipping
and retrying a claimed text writes (status, reason, error, lease, attempts, next try, the
event), and the moves they refuse: a text another worker holds now, or one no longer
``sending``, is left as it is, with no event.

The texts are claimed the way the dispatcher claims them (:func:`claim_due`), so attempts
and the claim are real.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from support.seeding import seed_treated

from followup.store.models import MessageEvent, OutboundMessage
from followup.store.outbox import claim_due, fail_claimed, retry_claimed, skip_claimed
from followup.store.outbox.outcomes import ERROR_MESSAGE_CHARS
from followup.store.statuses import MessageStatus as S

DONE = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
CLAIM = DONE + timedelta(hours=1)  # the aftercare is due; the check-ins are not
AT = CLAIM + timedelta(seconds=2)
LEASE = timedelta(minutes=5)


def claim(sessions, now=CLAIM, worker="w1") -> list[int]:
    with sessions() as db, db.begin():
        return claim_due(db, now=now, worker=worker, limit=10, lease=LEASE)


@pytest.fixture
def claimed(sessions) -> int:
    """The id of Harbor's aftercare text, claimed by worker w1 (its first attempt)."""
    seed_treated(sessions, ["+12015550123"], DONE, first_name="Ana")
    (message_id,) = claim(sessions)
    return message_id


def row(sessions, message_id: int) -> dict:
    with sessions() as db:
        m = db.get(OutboundMessage, message_id)
        return {
            "status": m.status,
            "reason": m.reason,
            "attempts": m.attempts,
            "claimed_by": m.claimed_by,
            "lease_until": m.lease_until,
            "send_at": m.send_at,
            "error_code": m.error_code,
            "error_message": m.error_message,
            "updated_at": m.updated_at,
        }


def events(sessions, message_id: int) -> list[tuple]:
    with sessions() as db:
        found = db.execute(
            select(
                MessageEvent.from_status,
                MessageEvent.to_status,
                MessageEvent.actor,
                MessageEvent.reason,
                MessageEvent.at,
            )
            .where(MessageEvent.message_id == message_id)
            .order_by(MessageEvent.id)
        )
        return [tuple(e) for e in found]


CLAIMED_EVENT = (S.SCHEDULED, S.SENDING, "w1", "claimed", CLAIM)


def test_the_claim_the_outcomes_start_from(sessions, claimed):
    before = row(sessions, claimed)
    assert (before["status"], before["attempts"], before["claimed_by"]) == (S.SENDING, 1, "w1")
    assert before["lease_until"] == CLAIM + LEASE
    assert events(sessions, claimed) == [CLAIMED_EVENT]


@pytest.mark.parametrize(
    ("detail", "kept"),
    [
        (None, "rejected: invalid number"),  # no detail: the reason is kept
        ("The 'To' number is not valid.", "The 'To' number is not valid."),
        ("x" * (ERROR_MESSAGE_CHARS + 80), "x" * ERROR_MESSAGE_CHARS),
    ],
    ids=["reason", "detail", "long-detail"],
)
def test_a_failed_send_keeps_its_error_and_ends_the_lease(sessions, claimed, detail, kept):
    before = row(sessions, claimed)
    with sessions() as db, db.begin():
        assert fail_claimed(
            db, claimed, worker="w1", at=AT, code="21211", reason="rejected: invalid number",
            detail=detail,
        ) is True  # fmt: skip
    assert row(sessions, claimed) == {
        **before,
        "status": S.FAILED,
        "reason": "rejected: invalid number",
        "lease_until": None,
        "error_code": "21211",
        "error_message": kept,
        "updated_at": AT,
    }
    assert events(sessions, claimed) == [
        CLAIMED_EVENT,
        (S.SENDING, S.FAILED, "w1", "rejected: invalid number", AT),
    ]


def test_a_skipped_text_says_why_and_keeps_no_error(sessions, claimed):
    before = row(sessions, claimed)
    with sessions() as db, db.begin():
        assert skip_claimed(db, claimed, worker="w1", at=AT, reason="opted out: sms: STOP")
    assert row(sessions, claimed) == {
        **before,
        "status": S.SKIPPED,
        "reason": "opted out: sms: STOP",
        "lease_until": None,
        "updated_at": AT,
    }
    assert events(sessions, claimed)[1:] == [
        (S.SENDING, S.SKIPPED, "w1", "opted out: sms: STOP", AT)
    ]


def test_a_retry_is_scheduled_for_its_next_try_and_claimed_then_with_the_attempt_counted(
    sessions, claimed, runtime
):
    next_try = AT + timedelta(seconds=30)
    why = "30008: unknown error; retry in 30 s"
    long_message = "unknown error " * 50
    with runtime.engine.begin() as conn:  # a Connection does as well as a Session
        assert retry_claimed(
            conn, claimed, worker="w1", at=AT, send_at=next_try, code="30008",
            message=long_message, reason=why,
        ) is True  # fmt: skip
    retried = {
        "status": S.SCHEDULED,
        "reason": why,
        "attempts": 1,  # counted at the claim, not again here
        "claimed_by": "w1",
        "lease_until": None,
        "send_at": next_try,
        "error_code": "30008",
        "error_message": long_message[:ERROR_MESSAGE_CHARS],
        "updated_at": AT,
    }
    assert row(sessions, claimed) == retried
    assert events(sessions, claimed)[1:] == [(S.SENDING, S.SCHEDULED, "w1", why, AT)]
    # not due a moment before its next try; claimed again at it, a second attempt
    assert claim(sessions, now=next_try - timedelta(seconds=1), worker="w2") == []
    assert claim(sessions, now=next_try, worker="w2") == [claimed]
    again = row(sessions, claimed)
    assert (again["status"], again["attempts"], again["claimed_by"]) == (S.SENDING, 2, "w2")
    assert again["error_code"] == "30008"  # the last error stays until a send succeeds
    assert events(sessions, claimed)[-1] == (S.SCHEDULED, S.SENDING, "w2", "claimed", next_try)


def _fail(db, message_id: int, worker: str) -> bool:
    return fail_claimed(db, message_id, worker=worker, at=AT, code="21211", reason="rejected")


def _skip(db, message_id: int, worker: str) -> bool:
    return skip_claimed(db, message_id, worker=worker, at=AT, reason="too late")


def _retry(db, message_id: int, worker: str) -> bool:
    return retry_claimed(
        db, message_id, worker=worker, at=AT, send_at=AT + timedelta(minutes=1), code="30008",
        message="busy", reason="retry",
    )  # fmt: skip


OUTCOMES = {"fail": _fail, "skip": _skip, "retry": _retry}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_an_outcome_for_a_text_another_worker_holds_now_changes_nothing(sessions, claimed, outcome):
    # w1's lease ran out and w2 took the text over; w1's late outcome must not stand
    with sessions() as db, db.begin():
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == claimed)
            .values(claimed_by="w2", lease_until=AT + LEASE)
        )
    before, history = row(sessions, claimed), events(sessions, claimed)
    with sessions() as db, db.begin():
        assert OUTCOMES[outcome](db, claimed, "w1") is False
    assert row(sessions, claimed) == before
    assert events(sessions, claimed) == history


@pytest.mark.parametrize("status", [s for s in S if s != S.SENDING], ids=str)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_an_outcome_for_a_text_no_longer_sending_changes_nothing(
    sessions, claimed, outcome, status
):
    # still claimed by w1 on paper, but already moved on (a status callback, a release)
    with sessions() as db, db.begin():
        db.execute(
            update(OutboundMessage).where(OutboundMessage.id == claimed).values(status=status)
        )
    before, history = row(sessions, claimed), events(sessions, claimed)
    with sessions() as db, db.begin():
        assert OUTCOMES[outcome](db, claimed, "w1") is False
    assert row(sessions, claimed) == before
    assert events(sessions, claimed) == history


def test_an_outcome_for_a_text_that_is_gone_changes_nothing(sessions, claimed):
    with sessions() as db, db.begin():
        for outcome in OUTCOMES.values():
            assert outcome(db, claimed + 1000, "w1") is False
    assert events(sessions, claimed) == [CLAIMED_EVENT]
