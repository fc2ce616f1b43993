"""The alert sender: claims due alerts, delivers each outside any transaction, records the
outcome, and retries with backoff; in a daemon thread (the web app) or a direct call (the
worker's tick).

Its SQL is the store's (:mod:`followup.store.alerts`); the channels are in
:mod:`~followup.staff.alerts.channels`. What it decides is here: which outcome retries and
which fails, how long a claim is held, when a sender gives back what it claimed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from followup.gateways.base import Gateway
from followup.gateways.policy import backoff, sender_for
from followup.ops import events
from followup.staff.alerts.channels import Outcome, notify, send_sms, short
from followup.staff.alerts.wording import NO_CLINIC, alert_text, flag_link
from followup.staff.redact import redact, scrub
from followup.store import alerts as store
from followup.store.alerts import ClaimedAlert
from followup.store.statuses import AlertChannel

log = logging.getLogger(__name__)

#: how often the sender thread looks for due alerts when nobody kicks it (retries, leftovers)
POLL_INTERVAL = 30.0


@dataclass
class AlertReport:
    """What one :meth:`AlertSender.run_once` did, for logs and the worker's tick summary."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


class AlertSender:
    """Delivers due ``staff_alerts``: claim under a lease, deliver outside any transaction,
    record each outcome guarded by the lease.

    Safe to run in several processes at once (the web app's thread, the worker's tick): a
    claim takes rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and under SQLite's write
    lock (``BEGIN IMMEDIATE``), and the UPDATE repeats the conditions, so an alert is held by
    one sender at a time. The lease must outlast a claimed batch's deliveries, each bounded
    by ``notify_timeout`` (and the gateway's own timeout for texts).
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        gateway: Gateway,
        *,
        public_url: str | None,
        default_from: str | None,
        default_service_sid: str | None,
        worker: str,
        max_attempts: int = 8,
        retry_base: float = 30.0,
        lease: timedelta = timedelta(minutes=2),
        notify_timeout: float = 10.0,
        batch_size: int = 5,
        poll_interval: float = POLL_INTERVAL,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if lease.total_seconds() < 2 * batch_size * notify_timeout:
            raise ValueError(
                f"lease {lease} is too short for {batch_size} alerts of up to "
                f"{notify_timeout} s each: another sender could take them over mid-delivery"
            )
        self.factory = factory
        self.gateway = gateway
        self.public_url = public_url
        self.default_from = default_from
        self.default_service_sid = default_service_sid
        self.worker = worker
        self.max_attempts = max(1, max_attempts)
        self.retry_base = retry_base
        self.lease = lease
        self.notify_timeout = notify_timeout
        self.batch_size = max(1, batch_size)
        self.poll_interval = poll_interval
        self._wall_clock = wall_clock
        self._skew = timedelta(0)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- one run ---------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> AlertReport:
        """Deliver every alert due at ``now`` (default: the wall clock); returns counts.

        ``now`` sets the run's clock, which then advances with the wall clock: leases and
        retry times stay right however long the deliveries take.
        """
        return self._run(now, threading.Event())

    def _run(self, now: datetime | None, stop: threading.Event) -> AlertReport:
        with self._lock:  # one run at a time per sender (the thread and a direct call)
            report = AlertReport()
            self._skew = (now - self._wall_clock()) if now is not None else timedelta(0)
            while not stop.is_set():
                taken, claimed = self._claim(self._now(), report)
                if not taken:
                    break
                for i, alert in enumerate(claimed):
                    if stop.is_set():
                        self._release(claimed[i:])
                        break
                    self._record(alert, self._deliver(alert), report)
                if taken < self.batch_size:
                    break  # that was the last of what is due
            return report

    def _now(self) -> datetime:
        return self._wall_clock() + self._skew

    def _claim(self, now: datetime, report: AlertReport) -> tuple[int, list[ClaimedAlert]]:
        """Claim up to ``batch_size`` due alerts; returns how many were taken and those to
        deliver (an alert claimed too often without an outcome is failed here instead)."""
        with self.factory() as db, db.begin():
            taken = store.claim_due(
                db, now=now, lease_until=now + self.lease, limit=self.batch_size
            )
            report.claimed += len(taken)
            claimed = []
            for alert in taken:
                if alert.attempts > self.max_attempts:
                    # claimed this often without an outcome: its sender died each time
                    error = f"interrupted: the sender stopped {alert.attempts - 1} times"
                    self._count(store.mark_failed(db, alert, error=error), alert, report, "failed")
                    continue
                claimed.append(alert)
            return len(taken), claimed

    def _release(self, alerts: list[ClaimedAlert]) -> None:
        """Give claimed alerts back undelivered (the sender is stopping): due at once for the
        next sender, the attempt not counted."""
        with self.factory() as db, db.begin():
            store.release(db, alerts)

    # -- delivery (no transaction open) ----------------------------------------------------

    def _deliver(self, alert: ClaimedAlert) -> Outcome:
        sms = alert.channel == AlertChannel.SMS
        try:
            title, body = alert_text(
                kind=alert.flag_kind,
                first_name=alert.first_name,
                clinic_name=alert.clinic_name or NO_CLINIC,
                link=flag_link(self.public_url, alert.clinic_slug, alert.flag_id),
                emergency_number=alert.emergency_number,
                # the on-call text is one segment; chat and email keep the link whatever
                fit_sms=sms,
                purpose=alert.purpose,
                reason=alert.flag_reason,
            )
        except ValueError as exc:  # a flag kind that has no alert: retrying cannot help
            return Outcome(False, short(str(exc)), permanent=True)
        try:
            if not sms:
                return notify(alert.destination, title, body, self.notify_timeout)
            from_number, service_sid = sender_for(
                alert.from_number,
                alert.messaging_service_sid,
                self.default_from,
                self.default_service_sid,
            )
            return send_sms(
                self.gateway,
                alert.destination,
                body,
                from_number=from_number,
                messaging_service_sid=service_sid,
            )
        except Exception as exc:  # a bug or a library's surprise: keep the row, try again
            if sms:
                log.exception("alert %s: delivery raised", alert.id)
            else:  # no traceback: its messages may quote the URL and its tokens
                log.error(
                    "alert %s (%s): delivery raised %s: %s", alert.id,
                    redact(alert.destination), type(exc).__name__,
                    scrub(str(exc), alert.destination),
                )  # fmt: skip
            return Outcome(False, f"unexpected {type(exc).__name__}")

    # -- recording -------------------------------------------------------------------------

    def _record(self, alert: ClaimedAlert, outcome: Outcome, report: AlertReport) -> None:
        """Write the outcome, only while the claim is still ours (same lease): a sender that
        took the alert over after our lease ran out has the last word."""
        now = self._now()
        with self.factory() as db, db.begin():
            if outcome.ok:
                moved = store.mark_sent(db, alert, at=now, provider_sid=outcome.provider_sid)
                self._count(moved, alert, report, "sent")
                return
            where = (
                redact(alert.destination)
                if alert.channel == AlertChannel.APPRISE
                else "on-call SMS"
            )
            if outcome.permanent or alert.attempts >= self.max_attempts:
                log.warning(
                    "alert %s (flag %s, %s) failed after %s attempt(s): %s",
                    alert.id, alert.flag_id, where, alert.attempts, outcome.error,
                )  # fmt: skip
                moved = store.mark_failed(db, alert, error=outcome.error)
                self._count(moved, alert, report, "failed")
                return
            log.info(
                "alert %s (flag %s, %s) attempt %s failed, will retry: %s",
                alert.id, alert.flag_id, where, alert.attempts, outcome.error,
            )  # fmt: skip
            later = now + backoff(alert.attempts, base=self.retry_base)
            moved = store.retry_at(db, alert, at=later, error=outcome.error)
            self._count(moved, alert, report, "retried")

    @staticmethod
    def _count(moved: bool, alert: ClaimedAlert, report: AlertReport, counter: str) -> None:
        if not moved:
            log.warning("alert %s: taken over by another sender; outcome not recorded", alert.id)
            return
        setattr(report, counter, getattr(report, counter) + 1)
        events.alert_delivery(alert.channel, counter)

    # -- the background thread -------------------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread: at once when kicked, else every ``poll_interval`` seconds
        (retries fall due, another process may have queued alerts). Its sessions come from
        the factory, never shared with the caller's."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"alerts-{self.worker}", daemon=True
        )
        self._thread.start()

    def kick(self) -> None:
        """Wake the thread now (a webhook just committed a flag with alerts)."""
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread: a delivery in progress finishes (bounded by its timeouts), the
        rest of the batch is left to its lease."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("alert sender did not stop within %s s", timeout)
            else:
                self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval)
            # cleared before the run: a kick arriving during it makes the next wait return
            self._wake.clear()
            if self._stop.is_set():
                return
            started = time.monotonic()
            try:
                report = self._run(None, self._stop)
            except Exception:  # database down, a bug: log it and keep the thread alive
                log.exception("alert sender run failed")
                self._stop.wait(1.0)  # no busy loop while the database is away
                continue
            if report.claimed:
                log.info(
                    "alerts: %s sent, %s retried, %s failed in %.1f s",
                    report.sent, report.retried, report.failed, time.monotonic() - started,
                )  # fmt: skip
