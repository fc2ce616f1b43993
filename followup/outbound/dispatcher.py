"""Dispatcher: due outbox rows -> gateway, several at a time, every outcome recorded.

One run (:meth:`Dispatcher.run_once`) repeats, until nothing is due:

1. **Claim** a batch in one short transaction (:mod:`~followup.outbound.claiming`): texts
   whose worker died mid-send, then due texts, each checked, rendered and its body stored.
2. **Send**, up to ``concurrency`` at once, each sender at its pace
   (:mod:`~followup.outbound.pacing`; one job: :mod:`~followup.outbound.sending`). Right
   before each send the row, patient and session are read again
   (:mod:`~followup.outbound.send_checks`); a text whose previous attempt may have reached
   the provider is first looked up there (:mod:`~followup.outbound.lookup`).
3. **Record** each outcome, guarded by the claim (:mod:`~followup.outbound.outcomes`):
   accepted texts as ``sent`` in groups, errors retried with backoff or failed. An error that
   would repeat for every text (rate limited, credentials refused) pauses the batch: the
   texts not yet sent go back unsent, their attempts not spent, due after the pause.

Every statement these run is the outbox's (:mod:`followup.store.outbox`).

Stopping (``stop`` set, e.g. on SIGTERM): sends in flight finish and are recorded, claimed
texts not yet sent are released at once, the run returns.

What remains after a crash: a text whose request reached Twilio but which Twilio does not
list yet when the next worker asks (Twilio lists a created text at once in practice) would be
sent twice. A worker frozen (not dead) for longer than its lease could also race the worker
that recovers its texts; the lease is therefore at least twice the request timeout
(``config``), so a live send has always ended before its lease does.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from followup.gateways.base import Gateway
from followup.outbound.batch import Batch, DispatchReport, Job
from followup.outbound.claiming import Claimer
from followup.outbound.lookup import Lookup
from followup.outbound.outcomes import Outcomes
from followup.outbound.pacing import SenderPace
from followup.outbound.send_checks import SendChecks
from followup.outbound.sending import Sender
from followup.store.outbox import LastLookReader
from followup.texts.catalogue import Catalogue

__all__ = ["DispatchReport", "Dispatcher"]

log = logging.getLogger(__name__)


class Dispatcher:
    """One worker's sending: the parts below, wired to one clock, one stop event and one
    worker name. :attr:`claimer`, :attr:`checks`, :attr:`sender` and :attr:`outcomes` are
    the phases of a run (the send benchmark times them)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        gateway: Gateway,
        catalogue: Catalogue,
        *,
        worker: str,
        default_from: str | None = None,
        default_service_sid: str | None = None,
        batch_size: int = 100,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
        retry_base: float = 30.0,
        concurrency: int = 1,
        pace: SenderPace | None = None,
        stop: threading.Event | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.factory = factory
        self.gateway = gateway
        self.catalogue = catalogue
        self.worker = worker
        self.concurrency = max(1, concurrency)
        self.stop = stop or threading.Event()
        self._wall_clock = wall_clock
        self._pool: ThreadPoolExecutor | None = None
        self._skew = timedelta(0)
        self.outcomes = Outcomes(
            factory,
            worker=worker,
            now=self.now,
            max_attempts=max_attempts,
            retry_base=retry_base,
            record_batch=max(32, 4 * self.concurrency),
        )
        self.claimer = Claimer(
            factory,
            catalogue,
            self.outcomes,
            worker=worker,
            batch_size=batch_size,
            lease=lease,
            max_attempts=max_attempts,
            default_from=default_from,
            default_service_sid=default_service_sid,
        )
        self.checks = SendChecks(LastLookReader(factory.kw["bind"]), worker)
        self.sender = Sender(
            factory,
            gateway,
            self.checks,
            Lookup(factory, gateway, self.outcomes, self.now),
            self.outcomes,
            pace=pace or SenderPace(None),
            stop=self.stop,
            now=self.now,
        )

    def run_once(self, now: datetime | None = None) -> DispatchReport:
        """Send everything due at ``now`` (default: the wall clock); returns counts.

        ``now`` sets the run's clock; it then advances with the wall clock, so windows and
        leases stay right in a long run and tests can start the clock anywhere.
        """
        report = DispatchReport()
        wall = self._wall_clock()
        self._skew = (now - wall) if now is not None else timedelta(0)
        while not self.stop.is_set():
            jobs = self.claimer.claim(self.now(), report)
            if not jobs:
                return report
            batch = Batch()
            try:
                self._map(functools.partial(self.sender.run_job, batch=batch, report=report), jobs)
            finally:
                self.outcomes.flush(batch, report)
            unsent = [j.message_id for j in jobs if j.message_id not in batch.started]
            if unsent:
                self.outcomes.release(unsent, batch, report)
            if batch.pause_until is not None:
                log.warning("sending paused: %s", batch.pause_reason)
                return report
        return report

    def now(self) -> datetime:
        """The run's clock: the wall clock, moved to the ``now`` the run was given."""
        return self._wall_clock() + self._skew

    def close(self) -> None:
        """Stop the sending threads and close their connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.checks.close()

    def _map(self, fn: Callable[[Job], None], jobs: list[Job]) -> None:
        if self.concurrency == 1 or len(jobs) == 1:
            for job in jobs:
                fn(job)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="send")
        list(self._pool.map(fn, jobs))
