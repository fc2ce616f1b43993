"""Recording what became of each claimed text: sent, failed, skipped, to be retried, or given
back unsent. The writes are the outbox's (:mod:`followup.store.outbox`); this module decides
which one, with what reason, and counts it.

Accepted texts are written as ``sent`` in groups: a group is written at ``record_batch``
texts, when a text joins it after :data:`RECORD_WAIT` seconds, and at the end of each batch.
One transaction per text cost more CPU than the send itself, and a text accepted but not yet
written when the worker dies is found by the post-crash lookup, never sent again.

A transient error sends the text back to ``scheduled`` with exponential backoff and jitter,
``failed`` only after ``max_attempts`` (never on the first attempt); a permanent error fails
it with its code. Every write is guarded by the claim: a text another worker took over is
left to them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from followup.gateways.base import SendError, SendResult
from followup.gateways.policy import backoff
from followup.ops import events
from followup.outbound.batch import Batch, DispatchReport, Job
from followup.outbound.timing import next_allowed
from followup.store.outbox import (
    Accepted,
    defer_claimed,
    fail_claimed,
    mark_sent,
    release,
    retry_claimed,
    skip_claimed,
)

log = logging.getLogger(__name__)

#: age, seconds, after which the next accepted text writes its group as sent (they are
#: written in groups; a crash before the write leaves them to the post-crash lookup, never
#: to a resend)
RECORD_WAIT = 0.5
STOPPING = "released unsent: worker stopping"


class Outcomes:
    """The outcome writer of one dispatcher (its worker name, its clock, its retry policy)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        worker: str,
        now: Callable[[], datetime],
        max_attempts: int,
        retry_base: float,
        record_batch: int,
    ) -> None:
        self.factory = factory
        self.engine = factory.kw["bind"]
        self.worker = worker
        self.now = now
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        #: accepted texts are written as sent this many at a time (or sooner, see RECORD_WAIT)
        self.record_batch = record_batch

    # -- accepted --------------------------------------------------------------------------

    def accept(
        self, batch: Batch, report: DispatchReport, job: Job, result: SendResult, reason: str
    ) -> None:
        """Queue an accepted text to be recorded as sent; write the queue when it is full or
        has waited long enough (one transaction for many texts, not one each)."""
        accepted = Accepted(
            job.message_id,
            result.provider_sid,
            result.provider_status,
            self.now(),
            reason,
            send_at=job.send_at,
        )
        due = batch.add_accepted(accepted, self.record_batch, RECORD_WAIT)
        if due:
            self.record_sent(due, report)

    def flush(self, batch: Batch, report: DispatchReport) -> None:
        """Write the accepted texts still queued (the end of a batch)."""
        self.record_sent(batch.take_accepted(), report)

    def record_sent(self, accepted: list[Accepted], report: DispatchReport) -> None:
        if not accepted:
            return
        with self.engine.begin() as conn:
            moved = set(mark_sent(conn, accepted, worker=self.worker))
        report.add("sent", len(moved))
        for a in accepted:
            if a.message_id in moved:
                events.text_sent(a.send_at, a.at)
                log.info("message %s sent (%s)", a.message_id, a.provider_sid)
            else:
                log.warning("message %s was taken over while being sent; %s not recorded here",
                            a.message_id, a.provider_sid)  # fmt: skip

    # -- not sent --------------------------------------------------------------------------

    def retry_or_fail(
        self, db: Session, job: Job, err: SendError, now: datetime, report: DispatchReport,
        *, code: str, what: str,
    ) -> None:  # fmt: skip
        """A transient failure: back to scheduled with backoff, failed after max_attempts
        (never on the first attempt)."""
        if job.attempts < self.max_attempts:
            delay = backoff(job.attempts, base=self.retry_base)
            # the retry lands inside the text's sending hours, never at night
            at = next_allowed(now + delay, job.tz, job.window)
            self.retry_later(db, job.message_id, now, delay, code, what, report, send_at=at)
        else:
            self.fail(db, job.message_id, now, code,
                      f"gave up after {job.attempts} attempts: {err.code}", report,
                      detail=err.message)  # fmt: skip

    def fail(
        self, db: Session, message_id: int, now: datetime, code: str, why: str,
        report: DispatchReport, detail: str | None = None,
    ) -> None:  # fmt: skip
        if fail_claimed(
            db, message_id, worker=self.worker, at=now, code=code, reason=why, detail=detail
        ):
            report.add("failed")

    def skip(
        self, db: Session, message_id: int, now: datetime, why: str, report: DispatchReport
    ) -> None:
        if skip_claimed(db, message_id, worker=self.worker, at=now, reason=why):
            report.add("skipped")

    def retry_later(
        self, db: Session, message_id: int, now: datetime, delay: timedelta, code: str,
        message: str, report: DispatchReport, send_at: datetime | None = None,
    ) -> None:  # fmt: skip
        """Back to ``scheduled`` at ``send_at`` (default ``now + delay``), the error kept on
        the row."""
        at = send_at or now + delay
        if retry_claimed(
            db, message_id, worker=self.worker, at=now, send_at=at, code=code,
            message=message,
            reason=f"{code}: {message[:200]}; retry in {int((at - now).total_seconds())} s",
        ):  # fmt: skip
            report.add("retried")

    def defer(
        self, db: Session, message_id: int, now: datetime, until: datetime, why: str,
        report: DispatchReport,
    ) -> None:  # fmt: skip
        """Back to ``scheduled`` at ``until``, its attempt not spent: it came due outside its
        sending hours. The caller asks the planner to place it again (caps, expiry)."""
        if defer_claimed(db, message_id, worker=self.worker, at=now, send_at=until, reason=why):
            report.add("deferred")

    def pause_batch(self, batch: Batch, err: SendError, now: datetime) -> None:
        """An error that would repeat for every text (rate limited, credentials refused):
        the batch stops sending until the first retry would be due."""
        batch.pause(now + backoff(1, base=self.retry_base), f"{err.code}: {err.message}")

    # -- given back ------------------------------------------------------------------------

    def release(self, ids: Iterable[int], batch: Batch, report: DispatchReport) -> None:
        """Give the texts of a batch not sent back: paused (they wait out the pause) or
        stopping (due as they were)."""
        reason = (
            f"released unsent: paused ({batch.pause_reason})" if batch.pause_until else STOPPING
        )
        with self.factory() as db, db.begin():
            n = release(db, list(ids), now=self.now(), worker=self.worker, reason=reason,
                        not_before=batch.pause_until)  # fmt: skip
        report.add("released", n)

    def release_stopping(self, message_id: int, report: DispatchReport) -> None:
        """Give one text back unsent: the worker is stopping."""
        with self.factory() as db, db.begin():
            n = release(db, [message_id], now=self.now(), worker=self.worker, reason=STOPPING)
        report.add("released", n)
