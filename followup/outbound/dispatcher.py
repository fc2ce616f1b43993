"""Dispatcher: due outbox rows -> gateway, several at a time, every outcome recorded.

One run (:meth:`Dispatcher.run_once`) repeats, until nothing is due:

1. **Claim**, in one short transaction (``outbox``): texts whose worker died mid-send (lease
   expired) and due texts, each ``sending`` under a lease. For each, check what may have
   changed since planning (opt-out, consent, cancelled session, step window: ``skipped`` with
   the reason), render the body from the current catalogue and store it on the row, so a text
   that is interrupted can be recognised at the provider later.
2. **Send**, up to ``concurrency`` at once, each sender at its pace (``ratelimit``). Right
   before each send the row, patient and session are read again (a STOP may have arrived a
   second ago). A text whose previous attempt may have reached the provider (worker killed,
   request timed out) is first looked up there (:meth:`Gateway.find_sent`); when found, its
   SID is recorded and it is not sent again.
3. **Record** each outcome, guarded by the claim (a row another worker took over is left to
   them). Accepted texts are written as ``sent`` with the provider's SID in groups (a group
   is written at ``record_batch`` texts, when a text joins it after :data:`RECORD_WAIT`
   seconds, and at the end of each batch): one transaction per text cost more
   CPU than the send itself, and a text accepted but not yet written when the worker dies is
   found by the post-crash lookup, never sent again. A permanent error is ``failed``
   with its code; a transient one back to ``scheduled`` with exponential backoff and jitter,
   ``failed`` only after ``max_attempts``. The provider saying "opted out" (Twilio 21610)
   marks the patient opted out and skips their pending texts. An error that would repeat for
   every text (rate limited, credentials refused) pauses the batch: the texts not yet sent
   go back unsent, their attempts not spent.

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
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from followup.gateways.base import Gateway, OutgoingSms, SendError, SendResult
from followup.gateways.policy import backoff, sender_for
from followup.inbound.consent import OPTED_OUT, UNUSABLE, record_carrier_error
from followup.outbound.pacing import SenderPace
from followup.phones import display_phone
from followup.store.models import Clinic, OutboundMessage, Patient, TreatmentSession
from followup.store.outbox import (
    Accepted,
    claim_due,
    mark_sent,
    reclaim_expired,
    release,
    set_bodies,
    transition,
)
from followup.texts.catalogue import Catalogue, TemplateError, format_appointment

log = logging.getLogger(__name__)

TEMPLATE_RETRY = timedelta(minutes=15)
#: age, seconds, after which the next accepted text writes its group as sent (they are
#: written in groups; a crash before the write leaves them to the post-crash lookup, never
#: to a resend)
RECORD_WAIT = 0.5
#: error codes after which the text may have reached the provider: look before sending again
UNCERTAIN = frozenset({"timeout", "connection lost", "interrupted"})


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    recovered: int = 0
    released: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def count_error(self, code: str) -> None:
        with self._lock:
            self.errors[code] = self.errors.get(code, 0) + 1


@dataclass(frozen=True)
class Job:
    """One claimed text, ready to go: what to send and what to check first."""

    message_id: int
    patient_id: int
    sms: OutgoingSms
    due_at: datetime
    expires_at: datetime
    attempts: int
    #: the previous attempt may have reached the provider: look it up before sending
    lookup: bool


class _Batch:
    """Shared state of one claimed batch: which jobs have started, and whether to pause."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: set[int] = set()
        self.pause_until: datetime | None = None
        self.pause_reason = ""
        self._accepted: list[Accepted] = []
        self._accepted_since = 0.0

    def add_accepted(self, accepted: Accepted, size: int, wait: float) -> list[Accepted]:
        """Queue one; returns the queue to write now (taken out) when it is due, else []."""
        with self.lock:
            if not self._accepted:
                self._accepted_since = time.monotonic()
            self._accepted.append(accepted)
            if len(self._accepted) < size and time.monotonic() - self._accepted_since < wait:
                return []
            taken, self._accepted = self._accepted, []
            return taken

    def take_accepted(self) -> list[Accepted]:
        with self.lock:
            taken, self._accepted = self._accepted, []
            return taken

    def start(self, message_id: int, stopping: bool) -> bool:
        with self.lock:
            if stopping or self.pause_until is not None:
                return False
            self.started.add(message_id)
            return True

    def pause(self, until: datetime, reason: str) -> None:
        with self.lock:
            if self.pause_until is None:
                self.pause_until, self.pause_reason = until, reason


class Dispatcher:
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
        self.engine = factory.kw["bind"]
        self.gateway = gateway
        self.catalogue = catalogue
        self.worker = worker
        self.default_from = default_from
        self.default_service_sid = default_service_sid
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.concurrency = max(1, concurrency)
        self.pace = pace or SenderPace(None)
        self.stop = stop or threading.Event()
        self._wall_clock = wall_clock
        self._pool: ThreadPoolExecutor | None = None
        self._skew = timedelta(0)
        self._local = threading.local()
        self._conns: list[Any] = []
        self._conns_lock = threading.Lock()
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._recheck_sql = _RECHECK_SQL.format(mark)
        #: accepted texts are written as sent this many at a time (or sooner, see RECORD_WAIT)
        self.record_batch = max(32, 4 * self.concurrency)

    # -- the run ---------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> DispatchReport:
        """Send everything due at ``now`` (default: the wall clock); returns counts.

        ``now`` sets the run's clock; it then advances with the wall clock, so windows and
        leases stay right in a long run and tests can start the clock anywhere.
        """
        report = DispatchReport()
        wall = self._wall_clock()
        self._skew = (now - wall) if now is not None else timedelta(0)
        while not self.stop.is_set():
            jobs = self._claim(self._now(), report)
            if not jobs:
                return report
            batch = _Batch()
            try:
                self._map(functools.partial(self._run_job, batch=batch, report=report), jobs)
            finally:
                self._flush(batch, report)
            unsent = [j.message_id for j in jobs if j.message_id not in batch.started]
            if unsent:
                self._release(unsent, batch, report)
            if batch.pause_until is not None:
                log.warning("sending paused: %s", batch.pause_reason)
                return report
        return report

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for proxied in conns:
            proxied.close()
        self._local = threading.local()

    def _now(self) -> datetime:
        return self._wall_clock() + self._skew

    def _map(self, fn: Callable[[Job], None], jobs: list[Job]) -> None:
        if self.concurrency == 1 or len(jobs) == 1:
            for job in jobs:
                fn(job)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="send")
        list(self._pool.map(fn, jobs))

    # -- 1. claim --------------------------------------------------------------------------

    def _claim(self, now: datetime, report: DispatchReport) -> list[Job]:
        with self.factory() as db, db.begin():
            recovered = reclaim_expired(
                db, now=now, worker=self.worker, limit=self.batch_size, lease=self.lease
            )
            stuck = {mid for mid, _, attempts in recovered if attempts >= self.max_attempts}
            for message_id, previous, attempts in recovered:
                log.warning(
                    "message %s: worker %s stopped while sending it; recovering", message_id,
                    previous,
                )  # fmt: skip
                if message_id in stuck:
                    # Its worker died on it every time: stop trying rather than loop forever.
                    self._fail(
                        db, message_id, now, "interrupted",
                        f"the sending worker stopped {attempts} times", report,
                    )  # fmt: skip
            report.add("recovered", len(recovered))
            claimed = claim_due(
                db,
                now=now,
                worker=self.worker,
                limit=max(1, self.batch_size - len(recovered)),
                lease=self.lease,
            )
            report.add("claimed", len(claimed))
            ids = [mid for mid, _, _ in recovered if mid not in stuck] + claimed
            return self._prepare(db, ids, {mid for mid, _, _ in recovered}, now, report)

    def _prepare(
        self,
        db: Session,
        ids: list[int],
        recovered: set[int],
        now: datetime,
        report: DispatchReport,
    ) -> list[Job]:
        if not ids:
            return []
        rows = db.execute(_PREPARE.where(OutboundMessage.id.in_(ids))).all()
        by_id = {row.id: row for row in rows}
        jobs: list[Job] = []
        bodies: list[tuple[int, str]] = []
        for message_id in ids:
            row = by_id.get(message_id)
            if row is None:
                continue
            why = skip_reason(
                opted_out=row.opted_out_at is not None,
                consent=row.consent,
                phone_unusable=row.phone_unusable_at is not None,
                session_status=row.session_status,
                expires_at=row.expires_at,
                now=now,
            )
            if why:
                self._skip(db, row.id, now, why, report)
                continue
            lookup = row.id in recovered or row.error_code in UNCERTAIN
            if lookup and row.body:
                body = row.body  # the text as it may already have gone out
            else:
                try:
                    body = self.render(row)
                except TemplateError as exc:
                    # The catalogue is checked at start, so a template changed under a running
                    # worker. Keep the text (nothing is lost) and try again later.
                    log.error("message %s: cannot render: %s", row.id, exc)
                    report.count_error("template")
                    self._retry_later(db, row.id, now, TEMPLATE_RETRY, "template", str(exc), report)
                    continue
                if body != row.body:
                    bodies.append((row.id, body))
            from_number, service_sid = sender_for(
                row.from_number, row.messaging_service_sid, self.default_from,
                self.default_service_sid,
            )  # fmt: skip
            sms = OutgoingSms(
                to=row.phone,
                body=body,
                from_number=from_number,
                messaging_service_sid=service_sid,
                message_id=row.id,
            )
            jobs.append(
                Job(row.id, row.patient_id, sms, row.due_at, row.expires_at, row.attempts, lookup)
            )
        set_bodies(db.connection(), bodies)
        return jobs

    def render(self, row: Any) -> str:
        """The text of one claimed row (columns of :data:`_PREPARE`), from the catalogue."""
        tz = ZoneInfo(row.patient_timezone or row.clinic_timezone)
        context = {
            "first_name": row.first_name,
            "clinic_name": row.clinic_name,
            "clinic_phone": display_phone(row.clinic_phone, row.country),
            "emergency_number": row.emergency_number,
            "appointment_time": (
                format_appointment(row.next_appointment_at, tz, row.locale, self.catalogue)
                if row.next_appointment_at
                else ""
            ),
        }
        return self.catalogue.render(row.template_key, row.locale, context)

    # -- 2. send ---------------------------------------------------------------------------

    def _run_job(self, job: Job, batch: _Batch, report: DispatchReport) -> None:
        if not batch.start(job.message_id, self.stop.is_set()):
            return
        try:
            self._send_one(job, batch, report)
        except Exception:
            # A database error mid-job: the row stays claimed and its lease brings it back.
            log.exception("message %s: unexpected error; left for lease recovery", job.message_id)

    def _send_one(self, job: Job, batch: _Batch, report: DispatchReport) -> None:
        now = self._now()
        why = self._recheck(job, now)
        if why == "gone":
            return
        if why:
            with self.factory() as db, db.begin():
                self._skip(db, job.message_id, now, why, report)
            return
        if job.lookup:
            found = self.gateway.find_sent(job.sms, since=job.due_at)
            if found is not None and found.ok:
                log.warning("message %s: found at the provider (%s); not sent again",
                            job.message_id, found.provider_sid)  # fmt: skip
                self._accept(batch, report, job, found, "found at provider")
                return
            if found is not None:
                # Cannot tell whether it went out: wait and ask again, never guess.
                assert found.error is not None
                err = found.error
                now = self._now()
                with self.factory() as db, db.begin():
                    self._retry_or_fail(db, job, err, now, report, code="interrupted",
                                        what=f"lookup failed: {err.code}")  # fmt: skip
                if err.pause:
                    batch.pause(
                        now + backoff(1, base=self.retry_base), f"{err.code}: {err.message}"
                    )
                return
        sender = job.sms.messaging_service_sid or job.sms.from_number or ""
        if not self.pace.wait(sender, self.stop):
            # stopping while waiting for this sender's slot: give the text back unsent
            with self.factory() as db, db.begin():
                n = release(db, [job.message_id], now=self._now(), worker=self.worker,
                            reason="released unsent: worker stopping")  # fmt: skip
            report.add("released", n)
            return
        result = self.gateway.send(job.sms)
        if result.ok:
            self._accept(batch, report, job, result, "accepted by gateway")
            return
        now = self._now()
        with self.factory() as db, db.begin():
            err = result.error
            assert err is not None
            report.count_error(err.code)
            if err.permanent:
                self._fail(db, job.message_id, now, err.code, f"error {err.code}: {err.message}",
                           report, detail=err.message)  # fmt: skip
                record_carrier_error(db, job.patient_id, now, err.code, opted_out=err.opted_out)
                return
            self._retry_or_fail(db, job, err, now, report, code=err.code, what=err.message)
        if err.pause:
            batch.pause(now + backoff(1, base=self.retry_base), f"{err.code}: {err.message}")

    def _recheck(self, job: Job, now: datetime) -> str | None:
        """Read the row, patient and session again just before sending.

        This runs once per text, so it skips the ORM and the pool: one prepared statement on a
        connection of the sending thread's own, in autocommit (a plain read, no lock taken).
        """
        conn = self._thread_connection()
        try:
            cur = conn.cursor()
            try:
                cur.execute(self._recheck_sql, (job.message_id,))
                row = cur.fetchone()
            finally:
                cur.close()
        except Exception:
            self._drop_thread_connection()  # a broken connection is not reused
            raise
        if row is None or row[0] != "sending" or row[1] != self.worker:
            return "gone"  # moved by someone else (an opt-out, another worker): theirs now
        return skip_reason(
            opted_out=row[2] is not None,
            consent=bool(row[3]),
            phone_unusable=row[5] is not None,
            session_status=row[4],
            expires_at=job.expires_at,
            now=now,
        )

    def _thread_connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            proxied = self.engine.raw_connection()
            conn = proxied.driver_connection
            proxied.detach()  # ours until close(); the pool neither resets nor shares it
            if self.engine.dialect.name == "postgresql":
                conn.autocommit = True
            with self._conns_lock:
                self._conns.append(proxied)
            self._local.conn, self._local.proxied = conn, proxied
        return conn

    def _drop_thread_connection(self) -> None:
        proxied = getattr(self._local, "proxied", None)
        self._local.conn = self._local.proxied = None
        if proxied is not None:
            with self._conns_lock:
                if proxied in self._conns:
                    self._conns.remove(proxied)
            try:
                proxied.close()
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)

    # -- 3. record -------------------------------------------------------------------------

    def _mine(self) -> tuple:
        return (OutboundMessage.claimed_by == self.worker,)

    def _accept(
        self, batch: _Batch, report: DispatchReport, job: Job, result: SendResult, reason: str
    ) -> None:
        """Queue an accepted text to be recorded as sent; write the queue when it is full or
        has waited long enough (one transaction for many texts, not one each)."""
        accepted = Accepted(
            job.message_id, result.provider_sid, result.provider_status, self._now(), reason
        )
        due = batch.add_accepted(accepted, self.record_batch, RECORD_WAIT)
        if due:
            self._record_sent(due, report)

    def _flush(self, batch: _Batch, report: DispatchReport) -> None:
        self._record_sent(batch.take_accepted(), report)

    def _record_sent(self, accepted: list[Accepted], report: DispatchReport) -> None:
        if not accepted:
            return
        with self.engine.begin() as conn:
            moved = set(mark_sent(conn, accepted, worker=self.worker))
        report.add("sent", len(moved))
        for a in accepted:
            if a.message_id in moved:
                log.info("message %s sent (%s)", a.message_id, a.provider_sid)
            else:
                log.warning("message %s was taken over while being sent; %s not recorded here",
                            a.message_id, a.provider_sid)  # fmt: skip

    def _retry_or_fail(
        self, db: Session, job: Job, err: SendError, now: datetime, report: DispatchReport,
        *, code: str, what: str,
    ) -> None:  # fmt: skip
        """A transient failure: back to scheduled with backoff, failed after max_attempts
        (never on the first attempt)."""
        if job.attempts < self.max_attempts:
            self._retry_later(
                db,
                job.message_id,
                now,
                backoff(job.attempts, base=self.retry_base),
                code,
                what,
                report,
            )
        else:
            self._fail(db, job.message_id, now, code,
                       f"gave up after {job.attempts} attempts: {err.code}", report,
                       detail=err.message)  # fmt: skip

    def _fail(
        self, db: Session, message_id: int, now: datetime, code: str, why: str,
        report: DispatchReport, detail: str | None = None,
    ) -> None:  # fmt: skip
        if transition(
            db, message_id, "sending", "failed", at=now, reason=why, actor=self.worker,
            guard=self._mine(), error_code=code, error_message=(detail or why)[:500],
            lease_until=None,
        ):  # fmt: skip
            report.add("failed")

    def _skip(
        self, db: Session, message_id: int, now: datetime, why: str, report: DispatchReport
    ) -> None:
        if transition(
            db, message_id, "sending", "skipped", at=now, reason=why, actor=self.worker,
            guard=self._mine(), lease_until=None,
        ):  # fmt: skip
            report.add("skipped")

    def _retry_later(
        self,
        db: Session,
        message_id: int,
        now: datetime,
        delay: timedelta,
        code: str,
        message: str,
        report: DispatchReport,
    ) -> None:
        """Back to ``scheduled`` at ``now + delay``, the error kept on the row."""
        if transition(
            db,
            message_id,
            "sending",
            "scheduled",
            at=now,
            reason=f"{code}: {message[:200]}; retry in {int(delay.total_seconds())} s",
            actor=self.worker,
            guard=self._mine(),
            send_at=now + delay,
            lease_until=None,
            error_code=code,
            error_message=message[:500],
        ):
            report.add("retried")

    def _release(self, ids: Iterable[int], batch: _Batch, report: DispatchReport) -> None:
        now = self._now()
        reason = (
            f"released unsent: paused ({batch.pause_reason})"
            if batch.pause_until
            else "released unsent: worker stopping"
        )
        with self.factory() as db, db.begin():
            n = release(db, list(ids), now=now, worker=self.worker, reason=reason)
            if batch.pause_until is not None:
                db.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id.in_(list(ids)), OutboundMessage.status == "scheduled",
                           OutboundMessage.send_at < batch.pause_until)
                    .values(send_at=batch.pause_until)
                )  # fmt: skip
        report.add("released", n)


_RECHECK_SQL = (
    "SELECT m.status, m.claimed_by, p.opted_out_at, p.consent, s.status, p.phone_unusable_at"
    " FROM outbound_messages m"
    " JOIN patients p ON p.id = m.patient_id"
    " JOIN treatment_sessions s ON s.id = m.session_id"
    " WHERE m.id = {}"
)

#: what a claimed text needs to be checked, rendered and addressed: plain columns, no ORM
#: objects (this runs for every text sent)
_PREPARE = (
    select(
        OutboundMessage.id,
        OutboundMessage.patient_id,
        OutboundMessage.template_key,
        OutboundMessage.locale,
        OutboundMessage.due_at,
        OutboundMessage.expires_at,
        OutboundMessage.attempts,
        OutboundMessage.error_code,
        OutboundMessage.body,
        Patient.first_name,
        Patient.phone,
        Patient.timezone.label("patient_timezone"),
        Patient.opted_out_at,
        Patient.consent,
        Patient.phone_unusable_at,
        Clinic.name.label("clinic_name"),
        Clinic.phone.label("clinic_phone"),
        Clinic.country,
        Clinic.timezone.label("clinic_timezone"),
        Clinic.emergency_number,
        Clinic.from_number,
        Clinic.messaging_service_sid,
        TreatmentSession.status.label("session_status"),
        TreatmentSession.next_appointment_at,
    )
    .join(Patient, Patient.id == OutboundMessage.patient_id)
    .join(Clinic, Clinic.id == OutboundMessage.clinic_id)
    .join(TreatmentSession, TreatmentSession.id == OutboundMessage.session_id)
    .where(OutboundMessage.status == "sending")
)


def skip_reason(
    *,
    opted_out: bool,
    consent: bool,
    session_status: str,
    expires_at: datetime,
    now: datetime,
    phone_unusable: bool = False,
) -> str | None:
    """Why a claimed text must not go out now, or None. Checked at claim and right before the
    send; the reasons are the codes a re-plan reads ("opted out" may be revived by opting in)."""
    if opted_out:
        return OPTED_OUT
    if not consent:
        return "no consent"
    if phone_unusable:
        return UNUSABLE
    if session_status != "completed":
        return "session cancelled"
    if now > expires_at:
        return f"too late: window ended {expires_at:%Y-%m-%d %H:%M} UTC"
    return None
