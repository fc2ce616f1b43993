"""The database edge: UTC timestamps, bulk inserts, migrations."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select, text

from followup.store.engine import (
    DatabaseBusy,
    bounded_transaction,
    bulk_insert,
    database_unavailable,
    make_engine,
)
from followup.store.models import (
    Base,
    Clinic,
    MessageEvent,
    OutboundMessage,
    Patient,
    TreatmentSession,
)

T = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


@pytest.fixture
def message_id(sessions) -> int:
    with sessions() as db, db.begin():
        clinic = Clinic(slug="c", name="C", phone="+12015550100", timezone="America/New_York")
        db.add(clinic)
        db.flush()
        patient = Patient(
            clinic_id=clinic.id, external_id="P", first_name="A", phone="+12015550123"
        )
        db.add(patient)
        db.flush()
        session = TreatmentSession(
            clinic_id=clinic.id, external_id="S", patient_id=patient.id, completed_at=T
        )
        db.add(session)
        db.flush()
        msg = OutboundMessage(
            clinic_id=clinic.id,
            session_id=session.id,
            patient_id=patient.id,
            step="a",
            template_key="a",
            locale="en",
            due_at=T,
            send_at=T,
            expires_at=T + timedelta(days=1),
        )
        db.add(msg)
        db.flush()
        return msg.id


def test_the_migrations_build_exactly_the_models(runtime):
    with runtime.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_timestamps_come_back_as_the_same_instant_in_utc(sessions, message_id):
    new_york = timezone(timedelta(hours=-5))
    when = datetime(2026, 3, 7, 23, 30, 0, 17, tzinfo=new_york)
    with sessions() as db, db.begin():
        db.get(OutboundMessage, message_id).sent_at = when
    with sessions() as db:
        got = db.scalar(select(OutboundMessage.sent_at))
    assert got == when
    assert got.tzinfo is UTC or got.utcoffset() == timedelta(0)


def test_comparisons_in_sql_follow_instants_not_text(sessions, message_id):
    # 07:00:00 and 07:00:00.000001, and the same instant written in another zone
    with sessions() as db:
        due = select(OutboundMessage.id).where(
            OutboundMessage.send_at <= T - timedelta(microseconds=1)
        )
        assert db.scalars(due).all() == []
        due = select(OutboundMessage.id).where(OutboundMessage.send_at <= T)
        assert db.scalars(due).all() == [message_id]
        other_zone = T.astimezone(timezone(timedelta(hours=5, minutes=30)))
        due = select(OutboundMessage.id).where(OutboundMessage.send_at <= other_zone)
        assert db.scalars(due).all() == [message_id]


def test_a_naive_timestamp_is_refused(sessions, message_id):
    with pytest.raises(Exception, match="naive datetime"), sessions() as db, db.begin():
        db.get(OutboundMessage, message_id).sent_at = datetime(2026, 3, 8, 7, 0)
        db.flush()


def test_bulk_insert_writes_what_a_plain_insert_writes(sessions, message_id):
    rows = [
        {
            "message_id": message_id,
            "from_status": None,
            "to_status": "scheduled",
            "at": T + timedelta(microseconds=i),
            "reason": f"r{i}",
            "actor": "test",
        }
        for i in range(3)
    ]
    with sessions() as db, db.begin():
        bulk_insert(db.connection(), MessageEvent.__table__, rows[:2])
        db.connection().execute(insert(MessageEvent.__table__), rows[2:])
    with sessions() as db:
        got = db.execute(
            select(
                MessageEvent.message_id,
                MessageEvent.from_status,
                MessageEvent.to_status,
                MessageEvent.at,
                MessageEvent.reason,
                MessageEvent.actor,
            ).order_by(MessageEvent.id)
        ).all()
    assert [tuple(r) for r in got] == [tuple(r.values()) for r in rows]


def test_sqlite_connections_have_wal_foreign_keys_and_a_busy_timeout(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()


def test_migrations_go_down_and_up_again(tmp_path):
    from alembic import command

    from followup.store.engine import alembic_config, current_revision, head_revision, upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    assert current_revision(engine) is None
    upgrade(url)
    assert current_revision(engine) == head_revision(url)
    engine.dispose()


def test_write_turns_are_first_come_first_served_and_reentrant():
    from followup.store.engine import WriteTurns

    turns = WriteTurns()
    order: list[int] = []
    turns.acquire()
    turns.acquire()  # re-entrant in the holding thread
    threads = []
    for i in range(5):
        t = threading.Thread(target=lambda i=i: (turns.acquire(), order.append(i), turns.release()))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # queue them in a known order
    turns.release()
    assert order == []  # still held once
    turns.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError):
        turns.release()


def test_a_writer_gets_its_turn_while_another_thread_writes_without_pause(sqlite_url):
    """The web app's database thread commits back to back; another thread of the process
    (the alert sender) must still get the write lock soon, not after the busy timeout."""
    engine = make_engine(sqlite_url)
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            with engine.begin() as conn:
                conn.execute(text("UPDATE clinics SET name = name WHERE id = 0"))
                time.sleep(0.003)  # a webhook's few milliseconds of work under the lock

    busy = threading.Thread(target=hammer)
    busy.start()
    try:
        time.sleep(0.2)
        waits = []
        for _ in range(10):
            started = time.monotonic()
            with engine.begin() as conn:
                conn.execute(text("UPDATE clinics SET name = name WHERE id = 0"))
            waits.append(time.monotonic() - started)
    finally:
        stop.set()
        busy.join()
        engine.dispose()
    assert max(waits) < 0.5, waits


def _hold(url: str):
    """Another connection holding the database for writing (SQLite's write lock; on
    PostgreSQL an exclusive lock on clinics), until ``release()`` is called."""
    import sqlite3

    if url.startswith("sqlite"):
        raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        return raw.rollback
    holder = make_engine(url)
    conn = holder.connect()
    tx = conn.begin()
    # should the bound not hold, the server ends this session (and the test fails on time
    # instead of waiting forever)
    conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = '5s'"))
    conn.execute(text("LOCK TABLE clinics IN ACCESS EXCLUSIVE MODE"))

    def release() -> None:
        with contextlib.suppress(Exception):
            tx.rollback()
            conn.close()
        holder.dispose()

    return release


def test_a_bounded_transaction_gives_up_in_time_while_another_writer_holds_the_lock(runtime):
    url = runtime.settings.database_url
    engine = runtime.engine
    release = _hold(url)
    try:
        started = time.monotonic()
        with pytest.raises(Exception) as caught, bounded_transaction(engine, 0.5) as conn:
            conn.execute(text("UPDATE clinics SET name = name WHERE id = 0"))
        elapsed = time.monotonic() - started
    finally:
        release()
    assert database_unavailable(caught.value), repr(caught.value)
    assert 0.3 < elapsed < 1.5, elapsed
    # the same pool serves ordinary transactions afterwards, with the usual waits
    with engine.begin() as conn:
        conn.execute(text("UPDATE clinics SET name = name WHERE id = 0"))
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        else:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "0"


def test_a_bounded_transaction_waits_no_longer_for_its_turn_within_the_process(sqlite_url):
    """Another thread of this process in a long write transaction: the turn is not taken,
    DatabaseBusy says so, and the turns are not left broken for anyone."""
    engine = make_engine(sqlite_url)
    holding, done = threading.Event(), threading.Event()

    def long_writer() -> None:
        with engine.begin() as conn:
            conn.execute(text("UPDATE clinics SET name = name WHERE id = 0"))
            holding.set()
            done.wait(10)

    t = threading.Thread(target=long_writer)
    t.start()
    try:
        holding.wait(5)
        started = time.monotonic()
        with pytest.raises(DatabaseBusy) as caught, bounded_transaction(engine, 0.3):
            pass
        assert time.monotonic() - started < 1.0
        assert database_unavailable(caught.value)
    finally:
        done.set()
        t.join(5)
    with bounded_transaction(engine, 1.0) as conn:
        conn.execute(text("UPDATE clinics SET name = name WHERE id = 0"))
    engine.dispose()
