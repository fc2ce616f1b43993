"""A reply is never lost when the database is slow or down: the webhook answers within
FOLLOWUP_WEBHOOK_DB_TIMEOUT from the spool, and the drain files the reply later, once.

Through the real ASGI app, on SQLite and PostgreSQL. "Another writer" is a second connection
holding SQLite's write lock (``BEGIN IMMEDIATE``) or, on PostgreSQL, an ACCESS EXCLUSIVE
lock on the replies table; "down" is a URL nothing answers at (the shared PostgreSQL
server is never stopped).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import stat
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update
from starlette.testclient import TestClient
from support.seeding import midday_before, seed_treated
from support.webhooks import (
    PUBLIC_URL,
    TOKEN,
    RecordingGateway,
    inbound_params,
    new_sid,
    post_signed,
)

from followup.config import load_settings
from followup.inbound import drain as drain_module
from followup.inbound import receive as receive_module
from followup.inbound.drain import drain
from followup.runtime import Runtime
from followup.spool import Spool, SpooledReply
from followup.store.engine import transaction
from followup.store.models import Clinic, Flag, InboundMessage, OutboundMessage, StaffAlert
from followup.web.app import create_app
from followup.worker import Worker

P0, P1 = "+12015550201", "+12015550202"
ONCALL = "+12015550999"
INBOUND = "/twilio/inbound"
EMERGENCY = "chest pain and I can't breathe properly"
#: the webhook's database wait in these tests (the default, 3 s, in the first test)
TIMEOUT = 1.0
#: what "answered within the timeout" allows beyond it: the request itself, a loaded machine
MARGIN = 1.0


def settings_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        **env,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "FOLLOWUP_PUBLIC_URL": PUBLIC_URL,
        "FOLLOWUP_WEBHOOK_DB_TIMEOUT": str(TIMEOUT),
        # the app's periodic drain stays out of the way; a test drains when it says so
        "FOLLOWUP_TICK_SECONDS": "3600",
        **extra,
    }


@pytest.fixture
def rt(env):
    runtime = Runtime(load_settings(settings_env(env)))
    now = datetime.now(UTC)
    seed_treated(runtime.sessions, [P0, P1], midday_before(now - timedelta(hours=30)))
    with transaction(runtime.sessions) as db:
        db.execute(update(Clinic).values(oncall_phone=ONCALL))
        for m in db.scalars(select(OutboundMessage).where(OutboundMessage.step == "checkin_24h")):
            m.status, m.sent_at, m.provider_sid = "sent", now - timedelta(hours=5), f"SMck{m.id}"
    yield runtime
    runtime.close()


def start(runtime: Runtime):
    gateway = RecordingGateway()
    client = TestClient(create_app(runtime, gateway=gateway), base_url="http://internal:8000")
    client.gateway = gateway  # type: ignore[attr-defined]
    return client


@pytest.fixture
def client(rt):
    with start(rt) as c:
        yield c


@contextlib.contextmanager
def another_writer(runtime: Runtime) -> Iterator[None]:
    """Another connection holds the database for writing until the block ends."""
    url = runtime.settings.database_url
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            # should the webhook's bound not hold, the server ends this session: the test
            # then fails on time instead of waiting forever
            conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = '10s'"))
            conn.execute(text("LOCK TABLE inbound_messages IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    tx.rollback()
    finally:
        engine.dispose()


def say(client, body: str, sender: str = P0, sid: str | None = None):
    return post_signed(client, INBOUND, inbound_params(body, sender, MessageSid=sid or new_sid()))


def answer(response) -> str | None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    message = ET.fromstring(response.text).find("Message")
    return None if message is None else message.text


def count(runtime: Runtime, model, *where) -> int:
    with runtime.sessions() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def stored(runtime: Runtime, sid: str) -> InboundMessage:
    with runtime.sessions() as db:
        return db.scalars(select(InboundMessage).where(InboundMessage.provider_sid == sid)).one()


def spool_of(runtime: Runtime) -> Spool:
    return Spool(runtime.settings.spool_dir)


def drain_once(runtime: Runtime):
    return drain(spool_of(runtime), runtime.engine, runtime.catalogue)


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# -- the webhook answers in time ----------------------------------------------------------


def test_a_reply_while_another_writer_holds_the_database_is_answered_in_time_and_filed_later(
    env,
):
    """The bug: a locked SQLite answered 500 after a minute; PostgreSQL waited as long as
    the lock was held. Now: the safe answer within the (default, 3 s) timeout, kept in the
    spool, and after the lock is released one drain files it with its flag and alert."""
    runtime = Runtime(load_settings(settings_env(env, FOLLOWUP_WEBHOOK_DB_TIMEOUT="")))
    try:
        seed_treated(runtime.sessions, [P0], midday_before(datetime.now(UTC) - timedelta(hours=30)))
        with transaction(runtime.sessions) as db:
            db.execute(update(Clinic).values(oncall_phone=ONCALL))
        assert runtime.settings.webhook_db_timeout == 3.0
        sid = new_sid()
        with start(runtime) as c, another_writer(runtime):
            started = time.monotonic()
            r = say(c, EMERGENCY, sid=sid)
            elapsed = time.monotonic() - started
            text_sent = answer(r)
        assert elapsed < 3.0 + MARGIN, elapsed
        assert text_sent is not None and "911" in text_sent and "now" in text_sent
        assert "chest" not in text_sent.lower() and "breath" not in text_sent.lower()

        files = spool_of(runtime).waiting()
        assert [f.name for f in files] == [f"{sid}.json"]
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
        assert count(runtime, InboundMessage) == 0

        report = drain_once(runtime)
        assert (report.filed, report.duplicates, report.set_aside) == (1, 0, 0)
        row = stored(runtime, sid)
        assert (row.reply_key, row.reply_body) == ("reply_kept_urgent", text_sent)
        assert row.patient_id is not None and row.kind == "emergency"
        with runtime.sessions() as db:
            flag = db.scalars(select(Flag)).one()
        assert (flag.kind, flag.inbound_id) == ("emergency", row.id)
        assert count(runtime, StaffAlert, StaffAlert.flag_id == flag.id) >= 1
        assert spool_of(runtime).waiting() == []
        assert drain_once(runtime).drained == 0  # nothing twice
        assert count(runtime, InboundMessage) == 1 and count(runtime, Flag) == 1
    finally:
        runtime.close()


def test_free_text_while_the_database_is_held_gets_the_calm_answer_with_the_number(rt, client):
    with another_writer(rt):
        started = time.monotonic()
        text_sent = answer(say(client, "ok thanks, see you tuesday"))
        assert time.monotonic() - started < TIMEOUT + MARGIN
    assert text_sent is not None and "911" in text_sent and "staff will read it" in text_sent
    assert "tuesday" not in text_sent.lower()
    drain_once(rt)
    (sid,) = stored_sids(rt)
    assert (stored(rt, sid).reply_key, stored(rt, sid).reply_body) == ("reply_kept", text_sent)


def stored_sids(runtime: Runtime) -> list[str]:
    with runtime.sessions() as db:
        return list(db.scalars(select(InboundMessage.provider_sid)))


def test_a_database_nothing_answers_at_still_gets_the_reply_answered_and_kept(rt, env, tmp_path):
    """PostgreSQL: a port with nothing listening; SQLite: a file that cannot be opened."""
    if rt.engine.dialect.name == "sqlite":
        down = f"sqlite:///{tmp_path}/no-such-dir/followup.db"
    else:
        down = "postgresql+psycopg://postgres@127.0.0.1:9/followup"
    dead = Runtime(load_settings(settings_env(env, FOLLOWUP_DATABASE_URL=down)))
    sid = new_sid()
    try:
        with start(dead) as c:
            started = time.monotonic()
            text_sent = answer(say(c, EMERGENCY, sid=sid))
            assert time.monotonic() - started < TIMEOUT + MARGIN
    finally:
        dead.close()
    assert text_sent is not None and "911" in text_sent
    assert spool_of(rt).find(sid).reply_body == text_sent
    # the same spool, drained into the database once it is there
    assert drain_once(rt).filed == 1
    row = stored(rt, sid)
    assert row.reply_body == text_sent and row.patient_id is not None
    assert count(rt, Flag, Flag.kind == "emergency") == 1


def test_a_database_thread_stuck_past_the_timeout_is_not_waited_for(rt, client, monkeypatch):
    """The webhook gives up on its database thread too (a wait no timeout covers); the
    abandoned transaction rolls back, so the drain files the reply once, as spooled."""
    real = receive_module.receive

    def slow(*args, **kwargs):
        result = real(*args, **kwargs)
        time.sleep(TIMEOUT + 1.5)
        return result

    monkeypatch.setattr(receive_module, "receive", slow)
    sid = new_sid()
    started = time.monotonic()
    text_sent = answer(say(client, EMERGENCY, sid=sid))
    assert time.monotonic() - started < TIMEOUT + MARGIN
    assert spool_of(rt).find(sid) is not None
    monkeypatch.setattr(receive_module, "receive", real)
    time.sleep(2.0)  # the stuck thread finishes, and rolls back
    assert count(rt, InboundMessage) == 0
    assert drain_once(rt).filed == 1
    assert stored(rt, sid).reply_body == text_sent


# -- Twilio's retries -------------------------------------------------------------------------


def test_a_retry_while_spooled_gets_the_same_answer_and_one_file_then_the_stored_one(rt, client):
    sid = new_sid()
    with another_writer(rt):
        first = answer(say(client, EMERGENCY, sid=sid))
        second = answer(say(client, EMERGENCY, sid=sid))
    third = answer(say(client, EMERGENCY, sid=sid))  # database free, reply still spooled
    assert first == second == third and first is not None
    assert [f.name for f in spool_of(rt).waiting()] == [f"{sid}.json"]
    assert count(rt, InboundMessage) == 0  # the webhook did not file it beside the spool
    assert drain_once(rt).filed == 1
    assert answer(say(client, EMERGENCY, sid=sid)) == first  # stored answer, deduped
    assert count(rt, InboundMessage) == 1 and count(rt, Flag) == 1
    assert spool_of(rt).waiting() == []


# -- draining ---------------------------------------------------------------------------------


def test_the_web_app_files_the_spool_after_the_next_request_the_database_answers(rt, client):
    spooled = new_sid()
    with another_writer(rt):
        answer(say(client, EMERGENCY, sid=spooled))
    assert count(rt, InboundMessage) == 0
    answer(say(client, "about a 3", sender=P1))  # the database is back
    assert wait_for(lambda: spooled in stored_sids(rt))
    assert wait_for(lambda: spool_of(rt).waiting() == [])
    # the emergency kept in the spool pages staff once it is filed
    assert wait_for(lambda: any(sms.to == ONCALL for sms in client.gateway.sent))


def test_the_worker_tick_files_the_spool_pages_staff_and_does_not_answer_again(rt, client):
    with another_writer(rt):
        text_sent = answer(say(client, EMERGENCY))
    texts_before = count(rt, OutboundMessage)
    gateway = RecordingGateway()
    worker = Worker(rt, gateway)
    try:
        report = worker.tick()
    finally:
        worker.close()
    assert report.drained == 1
    assert "spooled replies filed 1" in report.summary()
    (sid,) = stored_sids(rt)
    assert stored(rt, sid).reply_body == text_sent
    # staff are paged in the same tick; the patient, answered at spool time, is not again
    assert [sms.to for sms in gateway.sent] == [ONCALL]
    assert count(rt, OutboundMessage) == texts_before
    assert count(rt, StaffAlert, StaffAlert.status == "sent") == 1


def spooled_reply(sender: str, body: str, minutes_ago: float) -> SpooledReply:
    return SpooledReply(
        sid=new_sid(),
        from_number=sender,
        to_number="+12015550111",
        messaging_service_sid=None,
        body=body,
        num_media=0,
        opt_out_type=None,
        received_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        reply_key="reply_kept",
        reply_body="We have your message and staff will read it. ...",
    )


def test_two_drainers_at_once_file_each_reply_once(rt, monkeypatch):
    spool = spool_of(rt)
    replies = [spooled_reply(P0 if i % 2 else P1, f"note {i}", 30 - i) for i in range(16)]
    for r in replies:
        spool.keep(r)
    calls: Counter[str] = Counter()
    real = receive_module.receive

    def counting(conn, sms, **kwargs):
        calls[sms.sid] += 1
        time.sleep(0.01)  # widen the window in which both drainers see the same files
        return real(conn, sms, **kwargs)

    monkeypatch.setattr(receive_module, "receive", counting)
    other = Runtime(rt.settings)  # a second process's engine and catalogue
    barrier = threading.Barrier(2)
    reports = []

    def run(runtime: Runtime) -> None:
        barrier.wait()
        reports.append(drain(spool, runtime.engine, runtime.catalogue))

    try:
        threads = [threading.Thread(target=run, args=(r,)) for r in (rt, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other.close()
    assert set(calls) == {r.sid for r in replies}
    assert max(calls.values()) == 1, calls.most_common(3)
    assert sum(r.filed for r in reports) == 16 and sum(r.duplicates for r in reports) == 0
    assert count(rt, InboundMessage) == 16 and spool.waiting() == []


def test_replies_are_filed_in_order_of_arrival(rt, monkeypatch):
    spool = spool_of(rt)
    replies = [spooled_reply(P0, f"note {i}", 10 - i) for i in range(5)]
    for r in replies:
        spool.keep(r)
    order: list[str] = []
    real = receive_module.receive

    def recording(conn, sms, **kwargs):
        order.append(sms.sid)
        return real(conn, sms, **kwargs)

    monkeypatch.setattr(receive_module, "receive", recording)
    drain_once(rt)
    assert order == [r.sid for r in replies]
    with rt.sessions() as db:
        ids = list(db.scalars(select(InboundMessage.provider_sid).order_by(InboundMessage.id)))
    assert ids == order


def test_a_corrupt_file_is_set_aside_and_the_others_are_filed(rt, caplog):
    spool = spool_of(rt)
    good = spool.keep(spooled_reply(P0, "note", 5))
    bad = spool.directory / f"SM{'f' * 32}.json"
    bad.write_bytes(b'{"format": 1, "sid": "SMff')  # cut short by a crash of the disk
    with caplog.at_level(logging.ERROR, logger="followup.spool"):
        report = drain_once(rt)
    assert (report.filed, report.set_aside) == (1, 1)
    assert stored_sids(rt) == [good.sid]
    assert not bad.exists() and bad.with_name(bad.name + ".bad").exists()
    assert "set aside" in caplog.text
    assert spool.waiting() == [] and drain_once(rt).set_aside == 0  # not read again


def test_a_drain_while_the_database_is_held_leaves_every_file(rt, client):
    with another_writer(rt):
        answer(say(client, EMERGENCY))
        report = drain(spool_of(rt), rt.engine, rt.catalogue, timeout=0.5)
        assert (report.drained, report.left) == (0, 1)
    assert len(spool_of(rt).waiting()) == 1
    assert drain_once(rt).filed == 1


def test_a_reply_that_cannot_be_filed_is_set_aside_not_retried_forever(rt, monkeypatch):
    spool = spool_of(rt)
    first, second = spool.keep(spooled_reply(P0, "a", 5)), spool.keep(spooled_reply(P1, "b", 4))
    real = receive_module.receive

    def broken_for_first(conn, sms, **kwargs):
        if sms.sid == first.sid:
            raise ValueError("a fault of this reply's data")
        return real(conn, sms, **kwargs)

    monkeypatch.setattr(drain_module.receive, "receive", broken_for_first)
    report = drain_once(rt)
    assert (report.filed, report.set_aside) == (1, 1)
    assert stored_sids(rt) == [second.sid]
    assert (spool.directory / f"{first.sid}.json.bad").exists()


# -- when even the spool fails ----------------------------------------------------------------


def test_an_unwritable_spool_answers_500_and_logs_neither_number_nor_words(env, caplog, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    runtime = Runtime(load_settings(settings_env(env, FOLLOWUP_SPOOL_DIR=str(blocker / "spool"))))
    try:
        seed_treated(runtime.sessions, [P0], midday_before(datetime.now(UTC) - timedelta(hours=30)))
        with start(runtime) as c, another_writer(runtime), caplog.at_level(logging.DEBUG):
            r = say(c, EMERGENCY)
        assert r.status_code == 500
    finally:
        runtime.close()
    assert "not spooled" in caplog.text
    for secret in (P0, P0.removeprefix("+1"), "5550201", "chest", "breathe"):
        assert secret not in caplog.text
    assert not Path(blocker / "spool").exists()


# -- followup spool ---------------------------------------------------------------------------


def test_the_spool_command_counts_and_drains_without_showing_a_reply(rt, client):
    from support.cli_run import run

    with another_writer(rt):
        answer(say(client, EMERGENCY))
    (spool_of(rt).directory / f"SM{'e' * 32}.json").write_bytes(b"not json")
    listed = run("spool")
    assert listed.exit_code == 0, listed.output
    assert ": 2 waiting, oldest arrived 20" in listed.output and "0 set aside" in listed.output
    drained = run("spool", "--drain")
    assert drained.exit_code == 0, drained.output
    assert "filed 1, already stored 0, set aside 1, left 0" in drained.output
    assert "1 set aside" in run("spool").output and "0 waiting" in run("spool").output
    for secret in ("5550201", "chest", "breathe"):
        assert secret not in listed.output + drained.output
    assert count(rt, InboundMessage) == 1


def test_the_worker_drain_pages_the_fallback_phone_for_an_unknown_number_on_the_shared_sender(
    env,
):
    """Clinics on the shared sender, an emergency from a number none of them has, kept in the
    spool: the worker's drain pages FOLLOWUP_FALLBACK_ALERT_TO, as the live webhook would."""
    shared, fallback = "+12015550100", "+12015550900"
    runtime = Runtime(
        load_settings(
            settings_env(env, TWILIO_FROM_NUMBER=shared, FOLLOWUP_FALLBACK_ALERT_TO=fallback)
        )
    )
    try:
        seed_treated(runtime.sessions, [P0], datetime.now(UTC), from_number=None)
        seed_treated(runtime.sessions, [P1], datetime.now(UTC), first_id=1, slug="bay",
                     from_number=None)  # fmt: skip
        box = Spool(runtime.settings.spool_dir)
        reply = spooled_reply("+12015550477", EMERGENCY, 1)
        box.keep(
            SpooledReply(**{**reply.__dict__, "to_number": shared,
                            "reply_key": "reply_kept_urgent", "reply_body": "Call 911 now."})
        )  # fmt: skip
        gateway = RecordingGateway()
        worker = Worker(runtime, gateway)
        try:
            assert worker.tick().drained == 1
        finally:
            worker.close()
        # (the clinics' own alerts, for texts quiet hours hold back, go to their on-call)
        assert [sms.to for sms in gateway.sent].count(fallback) == 1
        with runtime.sessions() as db:
            (page,) = db.scalars(select(StaffAlert).where(StaffAlert.clinic_id.is_(None)))
        assert (page.destination, page.status) == (fallback, "sent")
        assert stored(runtime, reply.sid).reply_body == "Call 911 now."
    finally:
        runtime.close()
