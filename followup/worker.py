"""The worker: one tick files the replies the inbound spool kept while the database was out
of reach (their flags and staff alerts with them), plans pending sessions, writes the
nudges of unanswered safety check-ins (and tells staff of those still unanswered), sends
due texts, applies delivery receipts that arrived early, escalates flags nobody
acknowledged in time, retries staff alerts and, once a day across every worker, clears the
patients' words older than each clinic's retention period; ``run`` ticks forever, serving
the web app beside it.

APScheduler (3.x, in-memory job store) only provides the ticking. The database is the
schedule: nothing is kept in the scheduler, so a restart loses nothing and several worker
processes can run side by side (their claims never overlap). APScheduler's persistent job
stores are deliberately not used: they must not be shared between processes.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from followup.gateways.base import Gateway
from followup.inbound.drain import DrainReport, drain
from followup.inbound.receive import senders_of
from followup.inbound.status_callbacks import reconcile
from followup.outbound.dispatcher import Dispatcher, DispatchReport
from followup.outbound.nudges import NudgeReport, run_nudges
from followup.outbound.pacing import SenderPace
from followup.outbound.planner import PlanReport, plan_pending
from followup.retention import RetentionReport, run_daily
from followup.runtime import Runtime
from followup.spool import Spool
from followup.staff.alerts import AlertReport
from followup.staff.escalation import EscalationReport, escalate_due
from followup.store.clinics import without_alert_destination
from followup.store.engine import transaction

log = logging.getLogger(__name__)
#: how often a worker tries to claim the day's retention run
RETRY = timedelta(hours=1)


@dataclass
class TickReport:
    plan: PlanReport
    dispatch: DispatchReport
    receipts: int = 0
    alerts: AlertReport | None = None
    escalations: EscalationReport | None = None
    nudges: NudgeReport | None = None
    spool: DrainReport | None = None
    retention: RetentionReport | None = None

    @property
    def drained(self) -> int:
        """Spooled replies taken into the database this tick."""
        return self.spool.drained if self.spool else 0

    def summary(self) -> str:
        p, d = self.plan, self.dispatch
        errors = ", ".join(f"{code}: {n}" for code, n in sorted(d.errors.items()))
        return (
            f"planned {p.sessions} sessions ({p.scheduled} scheduled, {p.skipped} skipped, "
            f"{p.changed} changed); sent {d.sent}, retried {d.retried}, failed {d.failed}, "
            f"skipped {d.skipped}"
            + (f", recovered {d.recovered}" if d.recovered else "")
            + (f", released {d.released}" if d.released else "")
            + (f", {d.deferred} waiting for their sending hours" if d.deferred else "")
            + (f", {d.waiting} waiting for a clinic alert destination" if d.waiting else "")
            + (f"; errors {errors}" if errors else "")
            + (
                f"; nudges {n.scheduled} scheduled, {n.skipped} skipped, {n.escalated} to staff"
                if (n := self.nudges) and (n.scheduled or n.skipped or n.escalated)
                else ""
            )
            + (f"; {p.held} safety texts held back (staff alerted)" if p.held else "")
            + (
                f"; {p.unplannable} sessions cannot be planned (see followup outbox)"
                if p.unplannable
                else ""
            )
            + (f"; {self.receipts} early receipts applied" if self.receipts else "")
            + (
                f"; spooled replies filed {s.filed}, already stored {s.duplicates}, "
                f"set aside {s.set_aside}, left {s.left}"
                if (s := self.spool) and (s.drained or s.set_aside or s.left)
                else ""
            )
            + (
                f"; escalated {e.overdue} unread review flag(s), {e.second_contact} to the "
                "second contact"
                if (e := self.escalations) and (e.overdue or e.second_contact)
                else ""
            )
            + (
                f"; alerts sent {a.sent}, retried {a.retried}, failed {a.failed}"
                if (a := self.alerts) and a.claimed
                else ""
            )
            + (
                f"; retention cleared {r.texts} text(s), {r.replies} reply text(s)"
                if (r := self.retention) and (r.texts or r.replies)
                else ""
            )
        )


class Worker:
    def __init__(self, runtime: Runtime, gateway: Gateway | None = None) -> None:
        settings = runtime.settings
        self.runtime = runtime
        #: set on SIGTERM/SIGINT: sends in flight finish, claimed texts not yet sent go back
        self.stop = threading.Event()
        # Load (and so validate) every template before anything is sent, and the reply
        # lexicon before any reply is read.
        self.catalogue = runtime.catalogue
        runtime.lexicon  # noqa: B018 - loading is the check
        self.gateway = gateway or runtime.gateway
        self.dispatcher = Dispatcher(
            runtime.sessions,
            self.gateway,
            self.catalogue,
            worker=runtime.worker_id,
            default_from=settings.twilio_from_number,
            default_service_sid=settings.twilio_messaging_service_sid,
            batch_size=settings.worker_batch,
            lease=timedelta(seconds=settings.lease_seconds),
            max_attempts=settings.max_attempts,
            retry_base=settings.retry_base_seconds,
            concurrency=settings.send_concurrency,
            pace=SenderPace(settings.sender_rate),
            stop=self.stop,
        )
        self.alerts = runtime.alert_sender(self.gateway)
        self.spool = Spool(settings.spool_dir)
        self.senders = senders_of(settings)
        #: when this worker last tried to claim the day's retention run (at most hourly)
        self.retention_tried_at: datetime | None = None

    def tick(self, now: datetime | None = None) -> TickReport:
        """File spooled replies, plan, write nudges, send what is due, apply early receipts,
        escalate flags nobody acknowledged in time, send and retry alerts: all with one clock.
        Spooled replies come first, so an emergency among them is paged by this tick's
        alerts run."""
        now = now or datetime.now(UTC)
        spooled = self.drain_spool()
        plan = plan_pending(self.runtime.sessions, now)
        nudges = run_nudges(self.runtime.sessions, now)
        dispatch = self.dispatcher.run_once(now)
        with transaction(self.runtime.sessions) as db:
            receipts = reconcile(db, now)
        escalations = escalate_due(self.runtime.sessions, now)
        alerts = self.alerts.run_once(now)
        retention = self.retention_due(now)
        return TickReport(plan, dispatch, receipts, alerts, escalations, nudges, spooled, retention)

    def retention_due(self, now: datetime) -> RetentionReport | None:
        """The day's retention run, when this worker claims it. Tried at most once an hour
        (a claim is one INSERT, but every tick would be noise); whichever worker's claim
        wins runs it, the others find the day's row taken. A failure is logged and tried
        again the next hour (the claim is given back): retention never stops the sending."""
        if self.retention_tried_at is not None and now - self.retention_tried_at < RETRY:
            return None
        self.retention_tried_at = now
        try:
            return run_daily(self.runtime.sessions, now, worker=self.runtime.worker_id)
        except Exception:
            log.exception("retention run failed")
            return None

    def drain_spool(self) -> DrainReport | None:
        """The replies the spool holds, filed; None when they could not be (logged: a
        spool problem never stops the tick)."""
        try:
            return drain(self.spool, self.runtime.engine, self.catalogue, senders=self.senders)
        except Exception:
            log.exception("spool drain failed")
            return None

    def silent_clinics(self) -> list[str]:
        """One warning line per clinic without a staff alert destination: its patients get no
        texts until it has one (``send-due`` and ``run`` print these at every start)."""
        with self.runtime.sessions() as db:
            found = without_alert_destination(db)
            return [
                f"clinic {c.slug} ({c.name}) has no staff alert destination: its texts wait "
                f"in the outbox until one is set (followup clinics set-alerts {c.slug} "
                "--oncall-phone ... or --alert-url ...)"
                for c in found
            ]

    def stop_on_signals(self) -> None:
        """SIGTERM and SIGINT set :attr:`stop` (main thread only, where Python allows it)."""

        def _stop(signum: int, _frame) -> None:
            log.info(
                "signal %s: finishing sends in flight, then stopping", signal.Signals(signum).name
            )
            self.stop.set()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)

    def close(self) -> None:
        self.alerts.close()
        self.dispatcher.close()

    def run(self, serve: Callable[[], None] | None = None) -> None:
        """Tick every FOLLOWUP_TICK_SECONDS until SIGTERM or SIGINT, then stop cleanly:
        sends in flight finish and are recorded, texts claimed but not sent are released
        for the next worker, no new tick starts.

        With ``serve`` (the web app's server, given by the CLI: the worker knows nothing of
        the web) it runs in the main thread beside the ticks; uvicorn handles the signal,
        finishes requests in flight, then the worker stops."""
        from apscheduler.schedulers.background import BackgroundScheduler

        stop = self.stop
        self.stop_on_signals()

        def _tick() -> None:
            report = self.tick()
            if report.plan.sessions or report.dispatch.claimed or report.drained:
                log.info("%s", report.summary())

        scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        scheduler.add_job(
            _tick,
            "interval",
            seconds=self.runtime.settings.tick_seconds,
            next_run_time=datetime.now(UTC),
            id="tick",
        )
        scheduler.start()
        log.info(
            "worker %s running (%s gateway, tick %ss)",
            self.dispatcher.worker,
            self.gateway.name,
            self.runtime.settings.tick_seconds,
        )
        self.alerts.start()
        try:
            if serve is not None:
                serve()
                stop.set()
            while not stop.wait(0.5):
                pass
        finally:
            scheduler.shutdown(wait=True)
            self.close()
            log.info("worker stopped")
