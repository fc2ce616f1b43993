"""Retention on SQLite and PostgreSQL: the patients' words older than each clinic's period
are cleared, in batches; recent ones, and every one tied to a flag not yet closed, stay;
events, statuses and counts stay; the daily run is claimed by exactly one of several
workers; the commands print counts and a dry run writes nothing. Every clock is injected."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from support.cli_run import run

from followup.retention import (
    RetentionError,
    check_days,
    cutoff,
    period_of,
    purge,
    run_daily,
)
from followup.store.models import (
    AuditEvent,
    Clinic,
    Flag,
    InboundMessage,
    JobRun,
    MessageEvent,
    OutboundMessage,
    Patient,
    TreatmentSession,
)

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=100)


class Seed:
    """Clinics and their patients' texts and replies, written straight to the tables."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.clinics: dict[str, int] = {}
        self.patients = 0
        self.texts = 0

    def clinic(self, slug: str, days: int = 365) -> int:
        with self.sessions() as db, db.begin():
            c = Clinic(slug=slug, name=slug.title(), phone="+12015550100",
                       timezone="America/New_York", retention_days=days)  # fmt: skip
            db.add(c)
            db.flush()
            self.clinics[slug] = c.id
            return c.id

    def patient(self, slug: str) -> tuple[int, int]:
        """(patient id, session id) of a new patient of ``slug``."""
        self.patients += 1
        n, clinic_id = self.patients, self.clinics[slug]
        with self.sessions() as db, db.begin():
            p = Patient(clinic_id=clinic_id, external_id=f"P{n}", first_name="Maria",
                        phone=f"+1201555{n:04d}", consent=True)  # fmt: skip
            db.add(p)
            db.flush()
            s = TreatmentSession(clinic_id=clinic_id, external_id=f"S{n}", patient_id=p.id,
                                 completed_at=OLD - timedelta(days=1),
                                 plan_pending=False)  # fmt: skip
            db.add(s)
            db.flush()
            return p.id, s.id

    def text(self, slug: str, patient: tuple[int, int], at: datetime, status: str = "delivered"
             ) -> int:  # fmt: skip
        """A text sent (or finished) at ``at``, with its event."""
        self.texts += 1
        step = f"step{self.texts}"
        with self.sessions() as db, db.begin():
            sent = at if status in ("sent", "delivered", "undelivered") else None
            m = OutboundMessage(
                clinic_id=self.clinics[slug], patient_id=patient[0], session_id=patient[1],
                step=step, template_key="aftercare", locale="en", due_at=at, send_at=at,
                expires_at=at + timedelta(days=1), status=status, body="Hi Maria, how is it?",
                error_message="provider said no" if status == "failed" else None,
                sent_at=sent, updated_at=at,
            )  # fmt: skip
            db.add(m)
            db.flush()
            db.add(MessageEvent(message_id=m.id, from_status="sending", to_status=status, at=at))
            return m.id

    def reply(self, slug: str, patient: tuple[int, int], at: datetime, flag: str | None = None
              ) -> int:  # fmt: skip
        """A reply received at ``at``; with ``flag`` (its status) a flag it raised."""
        with self.sessions() as db, db.begin():
            n = db.scalar(select(func.count()).select_from(InboundMessage)) or 0
            r = InboundMessage(
                provider_sid=f"SM{n:032d}", clinic_id=self.clinics[slug], patient_id=patient[0],
                from_number="+12015550123", body="my chest hurts a bit", received_at=at,
                kind="text", urgency="normal", score=4, reply_key="ack", reply_body="Thanks!",
            )  # fmt: skip
            db.add(r)
            db.flush()
            if flag:
                db.add(Flag(clinic_id=self.clinics[slug], patient_id=patient[0],
                            inbound_id=r.id, kind="review", reason="free text", status=flag,
                            created_at=at))  # fmt: skip
            return r.id


@pytest.fixture
def seed(sessions) -> Seed:
    return Seed(sessions)


def body(sessions, model, row_id: int):
    with sessions() as db:
        row = db.get(model, row_id)
        return (row.body, row.error_message) if model is OutboundMessage else (
            row.body, row.reply_body)  # fmt: skip


# -- the pure decisions ----------------------------------------------------------------------


def test_a_period_under_30_days_is_refused():
    assert check_days(30) == 30
    with pytest.raises(RetentionError, match="at least 30"):
        check_days(29)


def test_the_cutoff_and_the_period_follow_the_clock():
    assert cutoff(NOW, 365) == NOW - timedelta(days=365)
    assert period_of(NOW) == "2026-12-04"


# -- the purge -------------------------------------------------------------------------------


def test_old_words_are_cleared_and_recent_ones_kept(seed, sessions):
    seed.clinic("harbor")
    p = seed.patient("harbor")
    old_text, new_text = seed.text("harbor", p, OLD), seed.text("harbor", p, RECENT)
    failed = seed.text("harbor", p, OLD, status="failed")
    old_reply, new_reply = seed.reply("harbor", p, OLD), seed.reply("harbor", p, RECENT)

    report = purge(sessions, NOW, actor="cli")

    assert (report.texts, report.replies) == (2, 1)
    assert body(sessions, OutboundMessage, old_text) == (None, None)
    assert body(sessions, OutboundMessage, failed) == (None, None)
    assert body(sessions, OutboundMessage, new_text) == ("Hi Maria, how is it?", None)
    assert body(sessions, InboundMessage, old_reply) == ("", None)
    assert body(sessions, InboundMessage, new_reply) == ("my chest hurts a bit", "Thanks!")


def test_what_happened_stays(seed, sessions):
    seed.clinic("harbor")
    p = seed.patient("harbor")
    text = seed.text("harbor", p, OLD)
    reply = seed.reply("harbor", p, OLD, flag="closed")
    purge(sessions, NOW, actor="cli")
    with sessions() as db:
        m, r = db.get(OutboundMessage, text), db.get(InboundMessage, reply)
        assert (m.status, m.sent_at, m.template_key) == ("delivered", OLD, "aftercare")
        assert [e.to_status for e in db.scalars(select(MessageEvent))] == ["delivered"]
        assert (r.kind, r.urgency, r.score, r.reply_key, r.received_at) == (
            "text", "normal", 4, "ack", OLD)  # fmt: skip
        flag = db.scalars(select(Flag)).one()
        assert (flag.reason, flag.status) == ("free text", "closed")


def test_a_scheduled_text_is_never_cleared(seed, sessions):
    seed.clinic("harbor")
    p = seed.patient("harbor")
    waiting = seed.text("harbor", p, OLD, status="scheduled")
    purge(sessions, NOW, actor="cli")
    assert body(sessions, OutboundMessage, waiting)[0] == "Hi Maria, how is it?"


@pytest.mark.parametrize("status", ["open", "acknowledged"])
def test_words_tied_to_a_flag_not_yet_closed_stay(seed, sessions, status):
    seed.clinic("harbor")
    flagged, other = seed.patient("harbor"), seed.patient("harbor")
    reply = seed.reply("harbor", flagged, OLD, flag=status)
    earlier = seed.reply("harbor", flagged, OLD - timedelta(days=3))
    text = seed.text("harbor", flagged, OLD)
    others = seed.reply("harbor", other, OLD)

    report = purge(sessions, NOW, actor="cli")

    assert (report.texts, report.replies) == (0, 1)
    assert body(sessions, InboundMessage, reply) == ("my chest hurts a bit", "Thanks!")
    assert body(sessions, InboundMessage, earlier)[0] == "my chest hurts a bit"
    assert body(sessions, OutboundMessage, text)[0] == "Hi Maria, how is it?"
    assert body(sessions, InboundMessage, others) == ("", None)
    # closed, the next run clears them
    with sessions() as db, db.begin():
        db.scalars(select(Flag)).one().status = "closed"
    assert purge(sessions, NOW, actor="cli").replies == 2
    assert body(sessions, InboundMessage, reply) == ("", None)


def test_each_clinic_by_its_own_period(seed, sessions):
    seed.clinic("harbor", days=365)
    seed.clinic("bay", days=30)
    h, b = seed.patient("harbor"), seed.patient("bay")
    harbor_text, bay_text = seed.text("harbor", h, RECENT), seed.text("bay", b, RECENT)
    bay_fresh = seed.text("bay", b, NOW - timedelta(days=29))

    report = purge(sessions, NOW, actor="cli")

    assert [(c.slug, c.days, c.texts) for c in report.clinics] == [
        ("bay", 30, 1), ("harbor", 365, 0)]  # fmt: skip
    assert body(sessions, OutboundMessage, harbor_text)[0] is not None
    assert body(sessions, OutboundMessage, bay_text)[0] is None
    assert body(sessions, OutboundMessage, bay_fresh)[0] is not None


def test_one_clinic_only_and_in_small_batches(seed, sessions):
    seed.clinic("harbor")
    seed.clinic("bay")
    h, b = seed.patient("harbor"), seed.patient("bay")
    texts = [seed.text("harbor", h, OLD - timedelta(hours=i)) for i in range(5)]
    bay_text = seed.text("bay", b, OLD)

    report = purge(sessions, NOW, actor="cli", slug="harbor", batch=2)

    assert [(c.slug, c.texts) for c in report.clinics] == [("harbor", 5)]
    assert all(body(sessions, OutboundMessage, t)[0] is None for t in texts)
    assert body(sessions, OutboundMessage, bay_text)[0] is not None
    with pytest.raises(RetentionError, match="no clinic"):
        purge(sessions, NOW, actor="cli", slug="nowhere")


def test_each_clinic_run_is_audited_with_counts_only(seed, sessions):
    seed.clinic("harbor")
    seed.clinic("bay")
    p = seed.patient("harbor")
    seed.text("harbor", p, OLD)
    seed.reply("harbor", p, OLD)
    purge(sessions, NOW, actor="worker:w1")
    with sessions() as db:
        events = db.scalars(select(AuditEvent).order_by(AuditEvent.subject)).all()
    assert [(e.action, e.subject, e.actor, e.at) for e in events] == [
        ("retention.purge", "clinic:bay", "worker:w1", NOW),
        ("retention.purge", "clinic:harbor", "worker:w1", NOW),
    ]
    assert events[1].detail == "older than 365 days: 1 text(s), 1 reply text(s) cleared"
    assert "chest" not in events[1].detail and "Maria" not in events[1].detail


def test_a_dry_run_counts_and_writes_nothing(seed, sessions):
    seed.clinic("harbor")
    p = seed.patient("harbor")
    text, reply = seed.text("harbor", p, OLD), seed.reply("harbor", p, OLD)
    report = purge(sessions, NOW, actor="cli", dry_run=True)
    assert (report.texts, report.replies) == (1, 1)
    assert body(sessions, OutboundMessage, text)[0] == "Hi Maria, how is it?"
    assert body(sessions, InboundMessage, reply)[0] == "my chest hurts a bit"
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(AuditEvent)) == 0


# -- once a day across every worker ----------------------------------------------------------


def test_the_day_is_run_once(seed, sessions):
    seed.clinic("harbor")
    p = seed.patient("harbor")
    seed.text("harbor", p, OLD)
    first = run_daily(sessions, NOW, worker="w1")
    assert first is not None and first.texts == 1
    assert run_daily(sessions, NOW + timedelta(hours=5), worker="w2") is None
    tomorrow = run_daily(sessions, NOW + timedelta(days=1), worker="w2")
    assert tomorrow is not None and tomorrow.texts == 0
    with sessions() as db:
        runs = db.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [(r.job, r.period, r.worker, r.finished_at) for r in runs] == [
        ("retention", "2026-12-04", "w1", NOW),
        ("retention", "2026-12-05", "w2", NOW + timedelta(days=1)),
    ]


def test_two_workers_racing_for_the_day_one_runs(seed, sessions):
    seed.clinic("harbor")
    p = seed.patient("harbor")
    seed.text("harbor", p, OLD)
    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def work(name: str) -> None:
        start.wait()
        results[name] = run_daily(sessions, NOW, worker=name)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = [n for n, r in results.items() if r is not None]
    assert len(results) == 2 and len(ran) == 1
    with sessions() as db:
        assert db.scalars(select(JobRun.worker)).all() == ran
        audits = db.scalars(select(AuditEvent.action)).all()
    assert audits == ["retention.purge"]


def test_a_failed_run_gives_the_day_back(seed, sessions, monkeypatch):
    seed.clinic("harbor")
    import followup.retention as retention

    def broken(*_a, **_k):
        raise RuntimeError("database went away")

    monkeypatch.setattr(retention, "purge", broken)
    with pytest.raises(RuntimeError):
        run_daily(sessions, NOW, worker="w1")
    monkeypatch.undo()
    assert run_daily(sessions, NOW + timedelta(hours=1), worker="w1") is not None


# -- the commands ----------------------------------------------------------------------------


def test_set_retention_command(env, clinic, sessions):
    result = run("clinics", "set-retention", "harbor", "90")
    assert result.exit_code == 0, result.output
    assert result.output == "harbor: patients' words kept 90 days (was 365)\n"
    with sessions() as db:
        assert db.scalars(select(Clinic.retention_days)).one() == 90
        event = db.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor, event.detail) == (
        "settings.change", "cli", "retention_days: 365 -> 90")  # fmt: skip

    refused = run("clinics", "set-retention", "harbor", "7")
    assert refused.exit_code == 1 and "at least 30" in refused.output
    assert run("clinics", "set-retention", "nowhere", "90").exit_code == 1
    with sessions() as db:
        assert db.scalars(select(Clinic.retention_days)).one() == 90
        assert db.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_retention_run_command(env, sessions):
    seed = Seed(sessions)
    seed.clinic("harbor")
    seed.clinic("bay", days=30)
    p = seed.patient("harbor")
    text = seed.text("harbor", p, OLD)
    seed.reply("harbor", p, OLD)
    now = ["--now", NOW.isoformat()]

    dry = run("retention", "run", "--dry-run", *now)
    assert dry.exit_code == 0, dry.output
    assert dry.output == (
        "bay: would clear 0 text(s) and 0 reply text(s) older than 30 days\n"
        "harbor: would clear 1 text(s) and 1 reply text(s) older than 365 days\n"
        "dry run: nothing was changed\n"
    )
    assert body(sessions, OutboundMessage, text)[0] is not None

    done = run("retention", "run", "--clinic", "harbor", *now)
    assert done.exit_code == 0, done.output
    assert done.output == "harbor: cleared 1 text(s) and 1 reply text(s) older than 365 days\n"
    assert body(sessions, OutboundMessage, text)[0] is None
    assert "my chest" not in done.output + dry.output

    missing = run("retention", "run", "--clinic", "nowhere")
    assert missing.exit_code == 1 and "no clinic" in missing.output


def test_the_worker_tick_claims_the_day_at_most_once_an_hour(runtime):
    from followup.gateways.console import ConsoleGateway
    from followup.worker import Worker

    seed = Seed(runtime.sessions)
    seed.clinic("harbor")
    p = seed.patient("harbor")
    seed.text("harbor", p, OLD)
    worker = Worker(runtime, ConsoleGateway())
    try:
        first = worker.tick(NOW)
        assert first.retention is not None and first.retention.texts == 1
        assert "retention cleared 1 text(s), 0 reply text(s)" in first.summary()
        # within the hour the tick does not ask; after it, it asks and finds the day taken
        assert worker.tick(NOW + timedelta(minutes=30)).retention is None
        assert worker.retention_tried_at == NOW
        assert worker.tick(NOW + timedelta(hours=1)).retention is None
        assert worker.retention_tried_at == NOW + timedelta(hours=1)
        assert worker.tick(NOW + timedelta(days=1)).retention is not None
    finally:
        worker.close()
    with runtime.sessions() as db:
        assert db.scalars(select(JobRun.period).order_by(JobRun.id)).all() == [
            "2026-12-04", "2026-12-05"]  # fmt: skip
