"""Staff alerts: a flag that needs staff now reaches the on-call phone and the clinic's chat.

Why alerts are a table (``staff_alerts``, an outbox for staff) and not a call made by the
webhook:

- The webhook that raises a flag never waits on Slack, email or SMS. It commits the flag and
  one ``pending`` row per destination in the same transaction (:func:`queue_alerts`), answers
  Twilio at once, and wakes the sender (:meth:`AlertSender.kick`).
- A failure is retried with backoff and stays visible: ``attempts`` and ``last_error`` are on
  the row for the dashboard and ``followup alerts``, and an alert that ran out of attempts is
  ``failed``, never silently dropped.
- Restarts lose nothing: a row committed with the flag is sent by whichever process looks
  next (the web app's sender thread or the worker's tick). Claims carry a lease, like the
  outbox's, so two processes never deliver the same alert, and an alert whose sender died
  mid-delivery is taken over when its lease runs out.

Privacy: an alert says which clinic, what kind of flag, the patient's first name and a
dashboard link; never the patient's words, symptoms, score or phone number (staff open the
dashboard for those). Apprise URLs hold tokens: errors and logs show them redacted
(:func:`redact`).

What remains: a sender killed after the gateway or Apprise accepted an alert but before the
row was written sends that alert again when its lease runs out. A duplicate page is better
than a missed one.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import apprise
from sqlalchemy import Connection, case, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from followup.gateways.base import Gateway, OutgoingSms
from followup.gateways.policy import backoff, sender_for
from followup.store.models import Clinic, Flag, Patient, StaffAlert
from followup.texts.segments import analyze, is_gsm7

log = logging.getLogger(__name__)

#: flag kinds that page staff; "review" flags only wait in the dashboard's inbox
ALERTED_KINDS = frozenset({"emergency", "clinic_today", "callback"})
#: delivery order of due alerts: emergencies, then clinic-today, then call-backs
_URGENCY = case((Flag.kind == "emergency", 0), (Flag.kind == "clinic_today", 1), else_=2)
#: how often the sender thread looks for due alerts when nobody kicks it (retries, leftovers)
POLL_INTERVAL = 30.0
#: longest error text kept on a row: enough to act on, short enough for a table cell
MAX_ERROR = 300

_TITLES = {
    "emergency": "URGENT: {clinic} patient reply",
    "clinic_today": "Call today: {clinic} patient reply",
    "callback": "Call-back: {clinic} patient reply",
}
#: the SMS names the clinic first: one on-call phone may serve several clinics
_PREFIXES = {
    "emergency": "URGENT {clinic}: ",
    "clinic_today": "{clinic}: ",
    "callback": "{clinic}: ",
}
#: the longest names alert_text must still fit in one segment, with the link dropped
FIT_FIRST_NAME, FIT_CLINIC_NAME = 20, 30


@dataclass(frozen=True)
class _Names:
    who: str
    clinic: str
    emergency_number: str | None


def _sentence(kind: str, names: _Names) -> str:
    who = names.who
    if kind == "emergency":
        told = (
            f" They were told to call {names.emergency_number}." if names.emergency_number else ""
        )
        return f"Emergency reply from {who}.{told}"
    subject = who[:1].upper() + who[1:]  # "An unknown number needs...", a name unchanged
    if kind == "clinic_today":
        return f"{subject} needs a call today."
    return f"{subject} asks for a call-back."


def _one_line(value: str) -> str:
    """Names come from clinics' systems: no newlines or runs of spaces in a text."""
    return " ".join(value.split())


def _gsm_fold(value: str) -> str:
    """``value`` in GSM-7: accents dropped where that is all that is missing ("Zoë" ->
    "Zoe"), anything else as "?". One such character would make the whole text UCS-2 and
    cut a segment from 160 characters to 70."""
    out = []
    for char in value:
        if is_gsm7(char):
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and all(is_gsm7(c) for c in base) else "?")
    return "".join(out)


def _cut(value: str, size: int) -> str:
    return value if len(value) <= size else value[: size - 3].rstrip() + "..."


def _fits(text: str) -> bool:
    info = analyze(text)
    return info.encoding == "GSM-7" and info.segments == 1


def alert_text(
    *,
    kind: str,
    first_name: str | None,
    clinic_name: str,
    link: str | None,
    emergency_number: str | None = None,
    fit_sms: bool = True,
) -> tuple[str, str]:
    """``(title, body)`` of the alert for a flag of ``kind``. Pure.

    The body names the clinic, says what the patient needs and links to the flag, e.g.
    ``"URGENT Harbor Physio: Emergency reply from Maria. They were told to call 911. Open:
    <link>"``. It carries the patient's first name and nothing else about them (no words,
    symptoms, score or number): alerts go to phones and chat rooms staff do not control.
    An unknown sender (``first_name`` None) is "an unknown number".

    With ``fit_sms`` (the default; what is texted to the on-call phone) the body is one GSM-7
    segment, 160 characters, so a page is never split or re-encoded by a carrier. When the
    whole text does not fit, in this order: names are folded to GSM-7 ("Zoë" -> "Zoe"), the
    link is dropped (staff find the flag in the dashboard), names are cut to 20 / 30
    characters. Without ``fit_sms`` (Apprise: chat and email have room) nothing is dropped.
    """
    if kind not in ALERTED_KINDS:
        raise ValueError(f"no alert for flag kind {kind!r}")
    clinic = _one_line(clinic_name)
    who = _one_line(first_name) if first_name and first_name.strip() else "an unknown number"
    number = _one_line(emergency_number) if emergency_number else None
    title = _TITLES[kind].format(clinic=clinic)

    def body(names: _Names, with_link: bool) -> str:
        text = _PREFIXES[kind].format(clinic=names.clinic) + _sentence(kind, names)
        return f"{text} Open: {link}" if with_link and link else text

    names = _Names(who, clinic, number)
    if not fit_sms:
        return title, body(names, True)
    folded = _Names(
        _gsm_fold(who), _gsm_fold(clinic), _gsm_fold(number) if number is not None else None
    )
    for candidate in (
        body(names, True),
        body(folded, True),
        body(names, False),
        body(folded, False),
    ):
        if _fits(candidate):
            return title, candidate
    # Names longer than any real one (or full of 2-septet characters such as "{"): cut them.
    # The second sizes fit whatever the characters (every one of them counting 2).
    text = ""
    for name_size, clinic_size in ((FIT_FIRST_NAME, FIT_CLINIC_NAME), (12, 20)):
        cut = _Names(
            _cut(folded.who, name_size),
            _cut(folded.clinic, clinic_size),
            _cut(folded.emergency_number, 16) if folded.emergency_number else None,
        )
        text = body(cut, False)
        if _fits(text):
            break
    return title, text


def flag_link(public_url: str | None, clinic_slug: str | None, flag_id: int) -> str | None:
    """The flag's page in the dashboard, or None when there is no public URL (or no clinic):
    an alert without a link still says everything staff need to start."""
    if not public_url or not clinic_slug:
        return None
    return f"{public_url.rstrip('/')}/clinics/{clinic_slug}/flags/{flag_id}"


def _destinations(clinic: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if clinic.oncall_phone and clinic.oncall_phone.strip():
        found.append(("sms", clinic.oncall_phone.strip()))
    for url in clinic.alert_urls or []:
        if isinstance(url, str) and url.strip() and ("apprise", url.strip()) not in found:
            found.append(("apprise", url.strip()))
    return found


def queue_alerts(
    db: Session | Connection, *, flag_id: int, flag_kind: str, clinic: Any, now: datetime
) -> int:
    """Queue one ``pending`` alert per destination of ``clinic`` for the flag: a text to its
    on-call phone, a notification to each of its Apprise URLs, all due ``now``.

    Nothing for a kind outside :data:`ALERTED_KINDS` (review flags wait in the inbox), for a
    flag without a clinic, or for a clinic without destinations. Runs in the caller's
    transaction, so the flag and its alerts are committed together or not at all. Returns
    the number of rows added.
    """
    if flag_kind not in ALERTED_KINDS or clinic is None:
        return 0
    rows: list[dict[str, Any]] = [
        {
            "flag_id": flag_id,
            "clinic_id": clinic.id,
            "channel": channel,
            "destination": destination,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for channel, destination in _destinations(clinic)
    ]
    if rows:
        db.execute(insert(StaffAlert), rows)
    return len(rows)


# -- redaction -------------------------------------------------------------------------------

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HOSTNAME = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|localhost)(:\d+)?$")


def redact(url: str) -> str:
    """``url`` safe for logs and ``last_error``: scheme and host only (``json://hooks.example/…``).

    Apprise URLs carry their secrets in the user part, the path, the query, and for many
    services in the "host" itself (``slack://TOKEN_A/TOKEN_B/TOKEN_C``,
    ``tgram://BOT_TOKEN/CHAT``). So the host is shown only when it looks like a network host
    (a dotted name, an IP address, localhost); otherwise ``slack://…``.
    """
    match = _SCHEME.match(url.strip())
    if not match:
        return "(not a URL)"
    scheme = match.group(1).lower()
    rest = url.strip()[match.end() :]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = authority.rsplit("@", 1)[-1]
    if _HOSTNAME.match(host):
        return f"{scheme}://{host}/…"
    return f"{scheme}://…"


def _secrets_of(url: str) -> list[str]:
    """The pieces of an Apprise URL that may be tokens, longest first, for scrubbing them
    out of error text (a plugin's message may quote its URL)."""
    pieces = {url, url.strip()}
    for piece in re.split(r"[/?#&=:@,;]+", url.strip()):
        if len(piece) >= 4:
            pieces.add(piece)
    return sorted(pieces, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    """``text`` with every token-like piece of ``url`` replaced by "…", except the host that
    :func:`redact` shows anyway. Whole pieces only, so a path word such as "notify" does not
    mangle "notification"."""
    shown = redact(url)
    keep = {shown, *re.split(r"[/:]+", shown)}
    for secret in _secrets_of(url):
        if secret not in keep:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "…", text)
    return text


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


# -- sending ---------------------------------------------------------------------------------


@dataclass
class AlertReport:
    """What one :meth:`AlertSender.run_once` did, for logs and the worker's tick summary."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Claimed:
    """One claimed alert with what it takes to deliver it (one joined SELECT)."""

    id: int
    channel: str
    destination: str
    attempts: int
    lease_until: datetime
    flag_id: int
    flag_kind: str
    clinic_name: str
    clinic_slug: str
    from_number: str | None
    messaging_service_sid: str | None
    emergency_number: str | None
    first_name: str | None


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    error: str | None = None
    permanent: bool = False
    provider_sid: str | None = None


_CLAIMED_DATA = (
    select(
        StaffAlert.id,
        StaffAlert.channel,
        StaffAlert.destination,
        StaffAlert.attempts,
        StaffAlert.lease_until,
        Flag.id.label("flag_id"),
        Flag.kind.label("flag_kind"),
        Clinic.name.label("clinic_name"),
        Clinic.slug.label("clinic_slug"),
        Clinic.from_number,
        Clinic.messaging_service_sid,
        Clinic.emergency_number,
        Patient.first_name,
    )
    .join(Flag, Flag.id == StaffAlert.flag_id)
    .join(Clinic, Clinic.id == StaffAlert.clinic_id)
    .outerjoin(Patient, Patient.id == Flag.patient_id)
)


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

    def _claim(self, now: datetime, report: AlertReport) -> tuple[int, list[_Claimed]]:
        """Claim up to ``batch_size`` due alerts; returns how many were taken and those to
        deliver (an alert claimed too often without an outcome is failed here instead)."""
        free = or_(StaffAlert.lease_until.is_(None), StaffAlert.lease_until < now)
        lease_until = now + self.lease
        with self.factory() as db, db.begin():
            # the most urgent first: an emergency never waits behind call-backs
            due = (
                select(StaffAlert.id)
                .join(Flag, Flag.id == StaffAlert.flag_id)
                .where(StaffAlert.status == "pending", StaffAlert.next_attempt_at <= now, free)
                .order_by(_URGENCY, StaffAlert.next_attempt_at, StaffAlert.id)
                .limit(self.batch_size)
            )
            if db.bind.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True, of=StaffAlert)
            ids = list(
                db.scalars(
                    update(StaffAlert)
                    .where(
                        StaffAlert.id.in_(due.scalar_subquery()),
                        StaffAlert.status == "pending",
                        free,
                    )
                    # the attempt counts when it starts: an alert that kills its sender every
                    # time runs out of attempts instead of looping forever
                    .values(lease_until=lease_until, attempts=StaffAlert.attempts + 1)
                    .returning(StaffAlert.id)
                    .execution_options(synchronize_session=False)
                )
            )
            if not ids:
                return 0, []
            report.claimed += len(ids)
            rows = db.execute(
                _CLAIMED_DATA.where(StaffAlert.id.in_(ids)).order_by(
                    _URGENCY, StaffAlert.next_attempt_at, StaffAlert.id
                )
            ).all()
            claimed = []
            for row in rows:
                alert = _Claimed(**row._asdict())
                if alert.attempts > self.max_attempts:
                    # claimed this often without an outcome: its sender died each time
                    error = f"interrupted: the sender stopped {alert.attempts - 1} times"
                    self._finish(db, alert, report, status="failed", last_error=error)
                    continue
                claimed.append(alert)
            return len(ids), claimed

    def _release(self, alerts: list[_Claimed]) -> None:
        """Give claimed alerts back undelivered (the sender is stopping): due at once for the
        next sender, the attempt not counted."""
        with self.factory() as db, db.begin():
            for alert in alerts:
                db.execute(
                    update(StaffAlert)
                    .where(
                        StaffAlert.id == alert.id,
                        StaffAlert.status == "pending",
                        StaffAlert.lease_until == alert.lease_until,
                    )
                    .values(lease_until=None, attempts=StaffAlert.attempts - 1)
                    .execution_options(synchronize_session=False)
                )

    # -- delivery (no transaction open) ----------------------------------------------------

    def _deliver(self, alert: _Claimed) -> _Outcome:
        try:
            title, body = alert_text(
                kind=alert.flag_kind,
                first_name=alert.first_name,
                clinic_name=alert.clinic_name,
                link=flag_link(self.public_url, alert.clinic_slug, alert.flag_id),
                emergency_number=alert.emergency_number,
                # the on-call text is one segment; chat and email keep the link whatever
                fit_sms=alert.channel == "sms",
            )
        except ValueError as exc:  # a flag kind that has no alert: retrying cannot help
            return _Outcome(False, _short(str(exc)), permanent=True)
        try:
            if alert.channel == "sms":
                return self._send_sms(alert, body)
            return self._notify(alert, title, body)
        except Exception as exc:  # a bug or a library's surprise: keep the row, try again
            if alert.channel == "sms":
                log.exception("alert %s: delivery raised", alert.id)
            else:  # no traceback: its messages may quote the URL and its tokens
                log.error(
                    "alert %s (%s): delivery raised %s: %s", alert.id,
                    redact(alert.destination), type(exc).__name__,
                    _scrub(str(exc), alert.destination),
                )  # fmt: skip
            return _Outcome(False, f"unexpected {type(exc).__name__}")

    def _send_sms(self, alert: _Claimed, body: str) -> _Outcome:
        from_number, service_sid = sender_for(
            alert.from_number,
            alert.messaging_service_sid,
            self.default_from,
            self.default_service_sid,
        )
        result = self.gateway.send(
            OutgoingSms(
                to=alert.destination,
                body=body,
                from_number=from_number,
                messaging_service_sid=service_sid,
            )
        )
        if result.error is None:
            return _Outcome(True, provider_sid=result.provider_sid)
        error = result.error
        return _Outcome(False, _short(f"{error.code}: {error.message}"), error.permanent)

    def _notify(self, alert: _Claimed, title: str, body: str) -> _Outcome:
        url = alert.destination
        shown = redact(url)
        match = _SCHEME.match(url)
        scheme = match.group(1).lower() if match else "no scheme"
        # memory only: whatever Apprise's defaults, no cache files of its own on the host
        ap = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
        if not ap.add(with_timeouts(url, self.notify_timeout)):
            return _Outcome(False, f"invalid Apprise URL ({scheme})", permanent=True)
        # bounded twice: the plugin's own socket timeouts (cto/rto in the URL) and the call's
        # deadline, for plugins whose requests ignore them
        result = ap.notify(
            body=body,
            title=title,
            notify_type=apprise.NotifyType.WARNING,
            timeout=self.notify_timeout,
        )
        try:
            if result:
                return _Outcome(True)
            if result.status == apprise.AppriseResultStatus.TIMEOUT:
                detail = f"no answer within {self.notify_timeout:g} s"
            else:
                # Apprise 2 hands each call its own log lines (thread-safe, unlike a
                # LogCapture on the shared "apprise" logger)
                lines = [
                    entry.message
                    for entry in result.logs()
                    if entry.level in ("WARNING", "ERROR", "CRITICAL")
                ]
                detail = " ".join(dict.fromkeys(lines)) or f"failed ({result.status.name})"
            return _Outcome(False, _short(f"{shown}: {_scrub(detail, url)}"))
        finally:
            result.close()

    # -- recording -------------------------------------------------------------------------

    def _record(self, alert: _Claimed, outcome: _Outcome, report: AlertReport) -> None:
        now = self._now()
        with self.factory() as db, db.begin():
            if outcome.ok:
                self._finish(
                    db, alert, report, status="sent",
                    sent_at=now, provider_sid=outcome.provider_sid, last_error=None,
                )  # fmt: skip
                return
            where = redact(alert.destination) if alert.channel == "apprise" else "on-call SMS"
            if outcome.permanent or alert.attempts >= self.max_attempts:
                log.warning(
                    "alert %s (flag %s, %s) failed after %s attempt(s): %s",
                    alert.id, alert.flag_id, where, alert.attempts, outcome.error,
                )  # fmt: skip
                self._finish(db, alert, report, status="failed", last_error=outcome.error)
                return
            log.info(
                "alert %s (flag %s, %s) attempt %s failed, will retry: %s",
                alert.id, alert.flag_id, where, alert.attempts, outcome.error,
            )  # fmt: skip
            self._finish(
                db, alert, report, status="pending", last_error=outcome.error,
                next_attempt_at=now + backoff(alert.attempts, base=self.retry_base),
            )  # fmt: skip

    def _finish(
        self,
        db: Session,
        alert: _Claimed,
        report: AlertReport,
        *,
        status: str,
        **values: Any,
    ) -> None:
        """Write an outcome, only while the claim is still ours (same lease): a sender that
        took the alert over after our lease ran out has the last word."""
        moved = db.execute(
            update(StaffAlert)
            .where(
                StaffAlert.id == alert.id,
                StaffAlert.status == "pending",
                StaffAlert.lease_until == alert.lease_until,
            )
            .values(status=status, lease_until=None, **values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            log.warning("alert %s: taken over by another sender; outcome not recorded", alert.id)
            return
        counter = {"sent": "sent", "failed": "failed", "pending": "retried"}[status]
        setattr(report, counter, getattr(report, counter) + 1)

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


def with_timeouts(url: str, seconds: float) -> str:
    """``url`` with Apprise's generic socket timeouts (``cto`` connect, ``rto`` read) set to
    ``seconds`` unless the URL sets its own. Apprise's default read timeout is 4 s, but not
    every plugin keeps it; stating it makes each request bounded by our setting."""
    query = url.split("?", 1)[1] if "?" in url else ""
    keys = {part.split("=", 1)[0].lower() for part in query.split("&") if part}
    extra = [f"{key}={seconds:g}" for key in ("cto", "rto") if key not in keys]
    if not extra:
        return url
    sep = "" if url.endswith(("?", "&")) else ("&" if "?" in url else "?")
    return url + sep + "&".join(extra)
