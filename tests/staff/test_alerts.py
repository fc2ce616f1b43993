"""Staff alerts: what they say (and never say), who gets them, and that they arrive once.

Apprise is exercised for real against a local HTTP server (its ``json://`` plugin posts
there), and texts through a recording gateway and, once, through the Twilio SDK against the
fake Twilio; every database test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from support.fake_twilio import FakeTwilio
from support.seeding import HARBOR, seed_treated

from followup.gateways.base import OutgoingSms, SendError, SendResult
from followup.gateways.twilio import TwilioGateway
from followup.staff.alerts import (
    ALERTED_KINDS,
    AlertSender,
    alert_text,
    flag_link,
    queue_alerts,
    redact,
    with_timeouts,
)
from followup.store.engine import make_engine, make_sessionmaker
from followup.store.models import Clinic, Flag, InboundMessage, Patient, StaffAlert
from followup.texts.segments import analyze

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
PUBLIC_URL = "https://followup.example"
PATIENT_PHONE = "+12015550123"
ONCALL = "+12015550199"
#: what the patient wrote and what the rules made of it: none of it may reach an alert
PATIENT_WORDS = "I have chest pain and my arm is numb, pain 9/10"
REASON = "red flag: chest pain; score 9"
PHI = (PATIENT_PHONE, "2015550123", "chest", "numb", "pain", "9/10", "score", "red flag")
INBOUND_KIND = {"emergency": "emergency", "clinic_today": "clinic_today", "callback": "text"}


# -- helpers ---------------------------------------------------------------------------------


class RecordingGateway:
    """A gateway that records each text and answers with the next scripted result."""

    name = "recording"

    def __init__(self, *results: SendResult, delay: float = 0.0) -> None:
        self.results = list(results)
        self.delay = delay
        self.sent: list[OutgoingSms] = []
        self._lock = threading.Lock()

    def send(self, sms: OutgoingSms) -> SendResult:
        time.sleep(self.delay)
        with self._lock:
            self.sent.append(sms)
            if self.results:
                return self.results.pop(0)
            return SendResult(provider_sid=f"SM{len(self.sent):032d}", provider_status="queued")

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        return None


class Hook:
    """A real HTTP endpoint for Apprise's ``json://`` plugin: records each POST, answers
    ``status`` after ``delay`` seconds."""

    def __init__(self) -> None:
        self.status = 200
        self.delay = 0.0
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    hook.posts.append((self.path, json.loads(raw or b"{}")))
                time.sleep(hook.delay)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def dead_port() -> int:
    """A local port nothing listens on: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_clinic(
    sessions: sessionmaker[Session],
    *,
    oncall: str | None = ONCALL,
    urls: list[str] | None = None,
    **clinic: Any,
) -> None:
    """Harbor Physio with patient Maria, and the clinic's alert destinations."""
    seed_treated(sessions, [PATIENT_PHONE], T0, first_name="Maria", **clinic)
    with sessions() as db, db.begin():
        db.execute(update(Clinic).values(oncall_phone=oncall, alert_urls=urls))


def raise_flag(
    sessions: sessionmaker[Session],
    kind: str = "emergency",
    *,
    known_patient: bool = True,
    now: datetime = T0,
) -> int:
    """A patient's reply, the flag it raised and its alerts, committed together (as the
    webhook does). Returns the flag's id."""
    with sessions() as db, db.begin():
        clinic = db.scalars(select(Clinic)).one()
        patient = db.scalars(select(Patient)).one() if known_patient else None
        n = db.query(InboundMessage).count()
        inbound = InboundMessage(
            provider_sid=f"SM{n:032d}",
            from_number=patient.phone if patient else "+12015550777",
            body=PATIENT_WORDS,
            received_at=now,
            kind=INBOUND_KIND.get(kind, "text"),
            urgency="emergency" if kind == "emergency" else "normal",
            score=9,
            matched=["chest pain"],
            clinic_id=clinic.id,
            patient_id=patient.id if patient else None,
        )
        db.add(inbound)
        db.flush()
        flag = Flag(
            clinic_id=clinic.id,
            patient_id=patient.id if patient else None,
            inbound_id=inbound.id,
            kind=kind,
            reason=REASON,
            status="open",
            created_at=now,
        )
        db.add(flag)
        db.flush()
        queue_alerts(db, flag_id=flag.id, flag_kind=kind, clinic=clinic, now=now)
        return flag.id


def alerts(sessions: sessionmaker[Session]) -> list[StaffAlert]:
    with sessions() as db:
        return list(db.scalars(select(StaffAlert).order_by(StaffAlert.id)))


def make_sender(sessions: sessionmaker[Session], gateway: Any = None, **kwargs: Any) -> AlertSender:
    options: dict[str, Any] = {
        "public_url": PUBLIC_URL,
        "default_from": None,
        "default_service_sid": None,
        "worker": "test",
        "notify_timeout": 3.0,
    }
    return AlertSender(sessions, gateway or RecordingGateway(), **{**options, **kwargs})


def assert_no_phi(text: str) -> None:
    for word in PHI:
        assert word.lower() not in text.lower(), f"{word!r} leaked into {text!r}"


# -- alert_text, flag_link, redact (pure) ----------------------------------------------------

LINK = "https://followup.example/clinics/harbor/flags/12"


@pytest.mark.parametrize(
    ("kind", "title", "says"),
    [
        ("emergency", "URGENT: Harbor Physio patient reply", "Emergency reply from Maria."),
        ("clinic_today", "Call today: Harbor Physio patient reply", "Maria needs a call today."),
        ("callback", "Call-back: Harbor Physio patient reply", "Maria asks for a call-back."),
    ],
)
def test_alert_text_says_who_what_and_where(kind: str, title: str, says: str) -> None:
    got_title, body = alert_text(
        kind=kind, first_name="Maria", clinic_name="Harbor Physio", link=LINK,
        emergency_number="911",
    )  # fmt: skip

    assert got_title == title
    assert says in body
    assert "Harbor Physio" in body  # one on-call phone may serve several clinics
    assert body.endswith(f"Open: {LINK}")
    assert ("call 911" in body) == (kind == "emergency")
    assert_no_phi(got_title + body)


@pytest.mark.parametrize("kind", sorted(ALERTED_KINDS))
def test_alert_text_for_an_unknown_number(kind: str) -> None:
    _, body = alert_text(kind=kind, first_name=None, clinic_name="Harbor Physio", link=None)

    assert "unknown number" in body
    assert "Open:" not in body  # no link without a public URL
    assert "None" not in body


@pytest.mark.parametrize(
    ("kind", "link_fits"),
    # with the link: 196, 159 and 161 characters
    [("emergency", False), ("clinic_today", True), ("callback", False)],
)
def test_alert_text_fits_one_gsm7_segment_by_dropping_the_link(kind: str, link_fits: bool) -> None:
    name, clinic = "Maximiliana-Josefine", "Harbor Physio & Sports Therapy"
    link = "https://followup.example/clinics/harbor-physio-and-sports/flags/" + "1" * 16
    assert (len(name), len(clinic), len(link)) == (20, 30, 80)

    _, body = alert_text(
        kind=kind, first_name=name, clinic_name=clinic, link=link, emergency_number="911"
    )

    info = analyze(body)
    assert (info.encoding, info.segments) == ("GSM-7", 1)
    assert name in body and clinic in body
    assert body.endswith(f" Open: {link}") == link_fits
    if not link_fits:
        assert link not in body
        assert len(f"{body} Open: {link}") > 160
    # a shorter name leaves room for the link again
    _, short = alert_text(kind=kind, first_name="Maria", clinic_name="Harbor Physio", link=link)
    assert short.endswith(link)
    assert analyze(short).segments == 1


def test_alert_text_never_turns_a_text_into_ucs2() -> None:
    _, body = alert_text(kind="callback", first_name="Zoë", clinic_name="Physio Łódź", link=LINK)

    assert analyze(body).encoding == "GSM-7"
    assert "Zoe" in body and body.endswith(LINK)


def test_alert_text_cuts_absurdly_long_names_to_fit() -> None:
    _, body = alert_text(
        kind="emergency", first_name="{" * 64, clinic_name="C" * 120, link=LINK,
        emergency_number="112",
    )  # fmt: skip

    info = analyze(body)
    assert (info.encoding, info.segments) == ("GSM-7", 1)
    assert "call 112" in body


def test_alert_text_for_apprise_keeps_the_link_whatever_the_length() -> None:
    link = "https://followup.example/" + "x" * 150
    _, body = alert_text(
        kind="emergency", first_name="Maria", clinic_name="Harbor Physio", link=link,
        fit_sms=False,
    )  # fmt: skip

    assert body.endswith(link)


def test_alert_text_refuses_review_flags() -> None:
    with pytest.raises(ValueError):
        alert_text(kind="review", first_name="Maria", clinic_name="Harbor Physio", link=None)


def test_flag_link() -> None:
    assert (
        flag_link("https://f.example/", "harbor", 7) == "https://f.example/clinics/harbor/flags/7"
    )
    assert flag_link(None, "harbor", 7) is None
    assert flag_link("https://f.example", None, 7) is None


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        ("slack://T0AAAA/B0BBBB/XXXXTOKEN", "slack://…", ["T0AAAA", "B0BBBB", "XXXXTOKEN"]),
        ("json://user:hunter22@127.0.0.1:8080/tok3n?x=1", "json://127.0.0.1:8080/…", ["hunter22"]),
        ("mailto://staff:pa55word@mail.example.com", "mailto://mail.example.com/…", ["pa55word"]),
        ("tgram://123456:ABCSECRET/98765", "tgram://…", ["ABCSECRET", "98765"]),
        ("https://hooks.slack.com/services/T1/B2/SECRET", "https://hooks.slack.com/…", ["SECRET"]),
        ("not a url", "(not a URL)", ["not a url"]),
    ],
)
def test_redact_keeps_scheme_and_host_only(url: str, shown: str, secrets: list[str]) -> None:
    assert redact(url) == shown
    for secret in secrets:
        assert secret not in redact(url)


def test_with_timeouts_bounds_requests_unless_the_url_does() -> None:
    assert with_timeouts("json://h.example/x", 10) == "json://h.example/x?cto=10&rto=10"
    assert with_timeouts("json://h.example/x?a=1", 2.5) == "json://h.example/x?a=1&cto=2.5&rto=2.5"
    assert with_timeouts("json://h.example/x?rto=30", 10) == "json://h.example/x?rto=30&cto=10"


# -- queue_alerts ----------------------------------------------------------------------------


def test_queue_alerts_one_row_per_destination(sessions: sessionmaker[Session]) -> None:
    urls = ["json://a.example/x", "slack://T/B/C"]
    seed_clinic(sessions, urls=[*urls, urls[0], ""])  # a repeated URL and a blank are ignored
    flag_id = raise_flag(sessions, "clinic_today")

    rows = alerts(sessions)

    assert [(r.channel, r.destination) for r in rows] == [
        ("sms", ONCALL),
        ("apprise", urls[0]),
        ("apprise", urls[1]),
    ]
    for row in rows:
        assert (row.flag_id, row.status, row.attempts) == (flag_id, "pending", 0)
        assert row.next_attempt_at == T0 and row.lease_until is None


@pytest.mark.parametrize(
    ("kind", "oncall", "urls"),
    [
        ("review", ONCALL, ["json://a.example/x"]),  # review flags wait in the inbox
        ("emergency", None, None),  # nowhere to send
        ("emergency", None, []),
    ],
)
def test_queue_alerts_adds_nothing(
    sessions: sessionmaker[Session], kind: str, oncall: str | None, urls: list[str] | None
) -> None:
    seed_clinic(sessions, oncall=oncall, urls=urls)
    raise_flag(sessions, kind)

    assert alerts(sessions) == []


def test_queue_alerts_without_a_clinic(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        assert queue_alerts(db, flag_id=1, flag_kind="emergency", clinic=None, now=T0) == 0


# -- Apprise, against a real HTTP server -----------------------------------------------------


def test_apprise_notification_reaches_the_endpoint(
    sessions: sessionmaker[Session], hook: Hook
) -> None:
    seed_clinic(sessions, oncall=None, urls=[hook.url("/alerts/ch4nnel")])
    flag_id = raise_flag(sessions, "emergency")

    report = make_sender(sessions).run_once(T0)

    assert (report.claimed, report.sent, report.retried, report.failed) == (1, 1, 0, 0)
    [(path, payload)] = hook.posts
    assert path == "/alerts/ch4nnel"
    assert payload["title"] == "URGENT: Harbor Physio patient reply"
    link = f"{PUBLIC_URL}/clinics/harbor/flags/{flag_id}"
    assert payload["message"] == (
        f"URGENT Harbor Physio: Emergency reply from Maria. They were told to call 911. "
        f"Open: {link}"
    )
    assert_no_phi(json.dumps(payload))
    [row] = alerts(sessions)
    assert (row.status, row.attempts, row.last_error, row.lease_until) == ("sent", 1, None, None)
    assert row.sent_at is not None and row.sent_at >= T0


def test_apprise_server_error_is_retried_then_failed(
    sessions: sessionmaker[Session], hook: Hook
) -> None:
    hook.status = 500
    seed_clinic(sessions, oncall=None, urls=[hook.url()])
    raise_flag(sessions, "callback")
    sender = make_sender(sessions, max_attempts=2, retry_base=60)

    report = sender.run_once(T0)

    assert (report.claimed, report.retried, report.failed) == (1, 1, 0)
    [row] = alerts(sessions)
    assert (row.status, row.attempts, row.lease_until) == ("pending", 1, None)
    assert row.last_error is not None and "500" in row.last_error
    assert row.last_error.startswith(f"json://127.0.0.1:{hook.port}/…")
    assert T0 + timedelta(seconds=30) <= row.next_attempt_at <= T0 + timedelta(seconds=62)

    assert sender.run_once(T0 + timedelta(seconds=10)).claimed == 0  # not due yet
    report = sender.run_once(T0 + timedelta(hours=1))

    assert (report.claimed, report.retried, report.failed) == (1, 0, 1)
    [row] = alerts(sessions)
    assert (row.status, row.attempts) == ("failed", 2)
    assert "500" in (row.last_error or "")
    assert len(hook.posts) == 2
    assert sender.run_once(T0 + timedelta(days=1)).claimed == 0  # failed stays failed


def test_refused_connection_is_retried_and_the_error_shows_no_secret(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    port = dead_port()
    url = f"json://staff:hunter22@127.0.0.1:{port}/T0KEN1234567"
    seed_clinic(sessions, oncall=None, urls=[url])
    raise_flag(sessions, "emergency")
    caplog.set_level(logging.DEBUG, logger="followup")

    report = make_sender(sessions).run_once(T0)

    assert report.retried == 1
    [row] = alerts(sessions)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > T0
    error = row.last_error or ""
    assert "connection error" in error.lower()
    assert error.startswith(f"json://127.0.0.1:{port}/…: ")
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("followup"))
    assert f"json://127.0.0.1:{port}/…" in ours
    for secret in ("hunter22", "T0KEN1234567", "staff:"):
        assert secret not in error
        assert secret not in ours


def test_an_invalid_apprise_url_fails_at_once(sessions: sessionmaker[Session]) -> None:
    seed_clinic(sessions, oncall=None, urls=["nosuchservice://s3cret/t0ken"])
    raise_flag(sessions, "emergency")

    report = make_sender(sessions).run_once(T0)

    assert report.failed == 1
    [row] = alerts(sessions)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "invalid Apprise URL (nosuchservice)"


# -- SMS to the on-call phone ----------------------------------------------------------------


def test_sms_goes_to_the_oncall_phone_from_the_clinic_sender(
    sessions: sessionmaker[Session],
) -> None:
    seed_clinic(sessions)
    flag_id = raise_flag(sessions, "clinic_today")
    gateway = RecordingGateway()

    report = make_sender(sessions, gateway, default_from="+12015550999").run_once(T0)

    assert report.sent == 1
    [sms] = gateway.sent
    assert sms.to == ONCALL
    assert (sms.from_number, sms.messaging_service_sid) == (HARBOR["from_number"], None)
    link = f"{PUBLIC_URL}/clinics/harbor/flags/{flag_id}"
    assert sms.body == f"Harbor Physio: Maria needs a call today. Open: {link}"
    assert_no_phi(sms.body)
    [row] = alerts(sessions)
    assert (row.status, row.provider_sid, row.attempts) == ("sent", f"SM{1:032d}", 1)


def test_the_most_urgent_alert_goes_first(sessions: sessionmaker[Session]) -> None:
    """Call-backs queued earlier do not hold up an emergency queued after them."""
    seed_clinic(sessions)
    raise_flag(sessions, "callback", now=T0 - timedelta(minutes=2))
    raise_flag(sessions, "clinic_today", now=T0 - timedelta(minutes=1))
    raise_flag(sessions, "emergency", now=T0)
    gateway = RecordingGateway()

    report = make_sender(sessions, gateway, batch_size=1).run_once(T0)

    assert report.sent == 3
    assert [sms.body.split(":")[0] for sms in gateway.sent] == [
        "URGENT Harbor Physio",
        "Harbor Physio",
        "Harbor Physio",
    ]
    assert ["needs a call today" in sms.body for sms in gateway.sent] == [False, True, False]


def test_sms_without_a_clinic_sender_uses_the_default_service(
    sessions: sessionmaker[Session],
) -> None:
    seed_clinic(sessions, from_number=None)
    raise_flag(sessions, "callback", known_patient=False)
    gateway = RecordingGateway()
    service = "MG" + "a" * 32

    make_sender(sessions, gateway, default_service_sid=service).run_once(T0)

    [sms] = gateway.sent
    assert (sms.from_number, sms.messaging_service_sid) == (None, service)
    assert "An unknown number asks for a call-back." in sms.body


def test_sms_through_the_twilio_sdk(sessions: sessionmaker[Session]) -> None:
    seed_clinic(sessions)
    raise_flag(sessions, "emergency")
    with FakeTwilio() as fake:
        gateway = TwilioGateway(fake.account_sid, fake.auth_token, api_url=fake.url, timeout=5)

        report = make_sender(sessions, gateway).run_once(T0)

        assert report.sent == 1
        [created] = fake.created
        assert (created["to"], created["from"]) == (ONCALL, HARBOR["from_number"])
        assert created["body"].startswith("URGENT Harbor Physio: Emergency reply from Maria.")
        assert_no_phi(created["body"])
        [row] = alerts(sessions)
        assert (row.status, row.provider_sid) == ("sent", created["sid"])

        # an invalid on-call number: Twilio's 21211 fails the alert at once
        fake.invalid_numbers.add(ONCALL)
        raise_flag(sessions, "callback")
        report = make_sender(sessions, gateway).run_once(T0)

        assert (report.sent, report.failed) == (0, 1)
        row = alerts(sessions)[-1]
        assert (row.status, row.attempts) == ("failed", 1)
        assert (row.last_error or "").startswith("21211")


def test_permanent_send_error_fails_at_once_transient_is_retried(
    sessions: sessionmaker[Session],
) -> None:
    seed_clinic(sessions)
    raise_flag(sessions, "emergency")
    raise_flag(sessions, "callback")
    gateway = RecordingGateway(
        SendResult(error=SendError("21211", "Invalid 'To' Phone Number", permanent=True)),
        SendResult(error=SendError("http 503", "Service Unavailable", permanent=False)),
    )

    report = make_sender(sessions, gateway).run_once(T0)

    assert (report.claimed, report.failed, report.retried) == (2, 1, 1)
    first, second = alerts(sessions)
    assert (first.status, first.attempts) == ("failed", 1)
    assert first.last_error == "21211: Invalid 'To' Phone Number"
    assert (second.status, second.attempts) == ("pending", 1)
    assert second.last_error == "http 503: Service Unavailable"
    assert second.next_attempt_at > T0

    report = make_sender(sessions, gateway).run_once(T0 + timedelta(hours=1))

    assert (report.claimed, report.sent) == (1, 1)
    assert alerts(sessions)[1].status == "sent"
    assert alerts(sessions)[1].last_error is None


# -- leases and concurrency ------------------------------------------------------------------


def test_leased_alerts_are_left_alone_until_the_lease_runs_out(
    sessions: sessionmaker[Session],
) -> None:
    seed_clinic(sessions)
    raise_flag(sessions, "emergency")
    with sessions() as db, db.begin():  # another sender holds it (and has spent an attempt)
        db.execute(update(StaffAlert).values(lease_until=T0 + timedelta(minutes=1), attempts=1))
    gateway = RecordingGateway()
    sender = make_sender(sessions, gateway)

    assert sender.run_once(T0).claimed == 0
    assert gateway.sent == []

    # that sender died: once its lease has run out the alert is taken over
    report = sender.run_once(T0 + timedelta(minutes=2))

    assert report.sent == 1 and len(gateway.sent) == 1
    [row] = alerts(sessions)
    assert (row.status, row.attempts) == ("sent", 2)


def test_an_alert_that_kills_its_sender_every_time_ends_failed(
    sessions: sessionmaker[Session],
) -> None:
    seed_clinic(sessions)
    raise_flag(sessions, "emergency")
    with sessions() as db, db.begin():  # claimed max_attempts times, never finished
        db.execute(update(StaffAlert).values(lease_until=T0 - timedelta(minutes=1), attempts=3))
    gateway = RecordingGateway()

    report = make_sender(sessions, gateway, max_attempts=3).run_once(T0)

    assert (report.claimed, report.failed) == (1, 1)
    assert gateway.sent == []
    [row] = alerts(sessions)
    assert row.status == "failed"
    assert (row.last_error or "").startswith("interrupted")


def test_concurrent_senders_deliver_each_alert_once(
    db_url: str, sessions: sessionmaker[Session], hook: Hook
) -> None:
    hook.delay = 0.03
    seed_clinic(sessions, urls=[hook.url()])
    flags = [raise_flag(sessions, kind) for kind in sorted(ALERTED_KINDS) * 3]
    gateway = RecordingGateway(delay=0.03)
    # the second sender has its own engine, as a second process would
    other_engine = make_engine(db_url)
    senders = [
        make_sender(sessions, gateway, batch_size=2, worker="web"),
        make_sender(make_sessionmaker(other_engine), gateway, batch_size=2, worker="worker"),
    ]
    barrier = threading.Barrier(len(senders))
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run(sender: AlertSender) -> None:
        try:
            barrier.wait()
            reports.append(sender.run_once(T0))
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        other_engine.dispose()

    assert errors == []
    assert sum(r.sent for r in reports) == 2 * len(flags)
    assert sum(r.claimed for r in reports) == 2 * len(flags)
    links = sorted(sms.body.rsplit("/", 1)[1] for sms in gateway.sent)
    assert links == sorted(str(f) for f in flags)  # each text once
    posted = sorted(p["message"].rsplit("/", 1)[1] for _, p in hook.posts)
    assert posted == sorted(str(f) for f in flags)  # each notification once
    assert {(r.status, r.attempts) for r in alerts(sessions)} == {("sent", 1)}


# -- the background thread -------------------------------------------------------------------


def test_kick_sends_at_once_and_close_stops_the_thread(sessions: sessionmaker[Session]) -> None:
    seed_clinic(sessions)
    gateway = RecordingGateway()
    sender = make_sender(sessions, gateway)
    sender.start()
    try:
        assert sender.running
        raise_flag(sessions, "emergency", now=datetime.now(UTC))
        time.sleep(0.3)
        assert alerts(sessions)[0].status == "pending"  # nothing runs until kicked (or 30 s)

        sender.kick()
        deadline = time.monotonic() + 2.0
        while alerts(sessions)[0].status != "sent" and time.monotonic() < deadline:
            time.sleep(0.02)

        assert alerts(sessions)[0].status == "sent"
        assert len(gateway.sent) == 1
    finally:
        sender.close(timeout=5)
    assert not sender.running


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("safety text held back: aftercare held back: quiet hours", "A safety text to Maria is"),
        ("no answer: safety check-in and its nudge unanswered for 4 h", "Maria has not answered"),
    ],
)
def test_a_review_flag_of_the_outbox_has_an_alert_without_health_details(reason, says) -> None:
    for fit in (True, False):
        title, body = alert_text(
            kind="review", first_name="Maria", clinic_name="Harbor Physio", link=LINK,
            reason=reason, fit_sms=fit,
        )  # fmt: skip
        assert title == "Please call: Harbor Physio patient"
        assert says in body and "Harbor Physio" in body
        assert "aftercare" not in body and "quiet" not in body  # the reason stays in the flag
        assert_no_phi(title + body)
    info = analyze(body)
    assert (info.encoding, info.segments) == ("GSM-7", 1)
    # a review flag raised by a reply still has no alert
    with pytest.raises(ValueError):
        alert_text(
            kind="review", first_name="Maria", clinic_name="Harbor Physio", link=None,
            reason="negated red flag: chest pain",
        )  # fmt: skip
