"""Sending one claimed text: the last check, the lookup a possibly-sent text needs first, the
sender's pace, the gateway, and the outcome.

Each job runs on one of the dispatcher's sending threads. A database error mid-job is logged
and the text left claimed: its lease brings it back, to be looked up before any resend. The
provider saying "opted out" (Twilio 21610) or "landline" marks the patient
(:func:`followup.consent.record_carrier_error`), which skips their pending texts. An
error that would repeat for every text (rate limited, credentials refused) pauses the batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from followup.consent import record_carrier_error
from followup.gateways.base import Gateway
from followup.outbound.batch import Batch, DispatchReport, Job
from followup.outbound.lookup import Lookup
from followup.outbound.outcomes import Outcomes
from followup.outbound.pacing import SenderPace
from followup.outbound.send_checks import GONE, SendChecks, waiting_reason, window_wait
from followup.store.planning import plan_again

log = logging.getLogger(__name__)

#: a wait for the sender's slot longer than this (seconds) is followed by a second last look
RECHECK_AFTER = 1.0


class Sender:
    """Sends the jobs of one dispatcher, one call per job, from any sending thread."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        gateway: Gateway,
        checks: SendChecks,
        lookup: Lookup,
        outcomes: Outcomes,
        *,
        pace: SenderPace,
        stop: threading.Event,
        now: Callable[[], datetime],
    ) -> None:
        self.factory = factory
        self.gateway = gateway
        self.checks = checks
        self.lookup = lookup
        self.outcomes = outcomes
        self.pace = pace
        self.stop = stop
        self.now = now

    def still_wanted(self, job: Job, report: DispatchReport) -> bool:
        """The last look at the row, patient and session: False when the text is no longer
        this worker's, or must be skipped now (opted out, consent withdrawn, wrong number,
        session cancelled, too late), which is then recorded."""
        now = self.now()
        why = self.checks.recheck(job, now)
        if why == GONE:
            return False
        if why:
            with self.factory() as db, db.begin():
                self.outcomes.skip(db, job.message_id, now, why, report)
            return False
        return True

    def run_job(self, job: Job, batch: Batch, report: DispatchReport) -> None:
        """Send ``job`` unless the batch is stopping or paused; never raises."""
        if not batch.start(job.message_id, self.stop.is_set()):
            return
        try:
            self.send_one(job, batch, report)
        except Exception:
            # A database error mid-job: the row stays claimed and its lease brings it back.
            log.exception("message %s: unexpected error; left for lease recovery", job.message_id)

    def send_one(self, job: Job, batch: Batch, report: DispatchReport) -> None:
        if not self.still_wanted(job, report):
            return
        if job.lookup and self.lookup.settle(job, batch, report):
            return
        sender = job.sms.messaging_service_sid or job.sms.from_number or ""
        asked = time.monotonic()
        if not self.pace.wait(sender, self.stop):
            # stopping while waiting for this sender's slot: give the text back unsent
            self.outcomes.release_stopping(job.message_id, report)
            return
        # a long wait for the sender's slot (a busy long code sends 1 a second): look again,
        # so the check stays right before the send
        if time.monotonic() - asked > RECHECK_AFTER and not self.still_wanted(job, report):
            return
        now = self.now()
        later = window_wait(now, job.tz, job.window)
        if later is not None:
            with self.factory() as db, db.begin():
                self.outcomes.defer(db, job.message_id, now, later,
                                    waiting_reason(later, job.tz), report)  # fmt: skip
                plan_again(db.connection(), [job.session_id])
            return
        result = self.gateway.send(job.sms)
        if result.ok:
            self.outcomes.accept(batch, report, job, result, "accepted by gateway")
            return
        now = self.now()
        err = result.error
        assert err is not None
        with self.factory() as db, db.begin():
            report.count_error(err.code)
            if err.permanent:
                self.outcomes.fail(db, job.message_id, now, err.code,
                                   f"error {err.code}: {err.message}", report,
                                   detail=err.message)  # fmt: skip
                record_carrier_error(db, job.patient_id, now, err.code, opted_out=err.opted_out)
                return
            self.outcomes.retry_or_fail(db, job, err, now, report, code=err.code, what=err.message)
        if err.pause:
            self.outcomes.pause_batch(batch, err, now)
