"""Engine, sessions and migrations: the one place that knows which database we talk to.

SQLite is the embedded default and gets WAL, a busy timeout and foreign keys on every
connection (SQLite leaves all three off). PostgreSQL is the production database.
The schema is only ever created by Alembic (``followup db upgrade``), so a test database and
a clinic's database are built by the same migrations.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
#: SQLite's wait for its write lock outside a :func:`bounded_transaction`, milliseconds
SQLITE_BUSY_MS = 30_000
#: the deadline (``time.monotonic()``) of the bounded transaction this thread is in, if any
_bounds = threading.local()


class DatabaseBusy(Exception):
    """A :func:`bounded_transaction` ran out of time waiting for its turn at SQLite's write
    lock within this process, before any SQL ran: the database's trouble, not the data's."""


def _remaining() -> float | None:
    """Seconds left before this thread's bounded transaction must give up (None: no bound)."""
    deadline = getattr(_bounds, "deadline", None)
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class WriteTurns:
    """First come, first served turns for SQLite write transactions within one process.

    SQLite has one writer at a time, and a connection that finds the database locked polls
    for it with growing sleeps (the busy timeout). Between threads of one process that is
    unfair: the web app's database thread commits and takes the lock again within
    microseconds, so the alert sender, the planner or the dispatcher in the same process,
    polling, could wait the whole 30-second busy timeout during a burst of webhooks
    (bench/webhook.py measured staff alerts 17 s late at the median). With turns, each
    write transaction of the process waits in arrival order instead; the busy timeout still
    arbitrates between processes.

    Re-entrant per thread (a thread that opens a second transaction while holding one would
    block on SQLite anyway, but must not deadlock here).
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: deque[tuple[int, threading.Lock]] = deque()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, timeout: float | None = None) -> bool:
        """Wait for this thread's turn, at most ``timeout`` seconds (None: as long as it
        takes); False when the time ran out and the turn was not taken."""
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me or (self._owner is None and not self._waiting):
                self._owner, self._depth = me, self._depth + 1
                return True
            turn = threading.Lock()
            turn.acquire()
            entry = (me, turn)
            self._waiting.append(entry)
        # released by release() when it hands the turn to us
        if turn.acquire(timeout=-1 if timeout is None else timeout):
            return True
        with self._mutex:
            if entry not in self._waiting:  # handed to us just as the time ran out
                return True
            self._waiting.remove(entry)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("write turn released by a thread that does not hold it")
            self._depth -= 1
            if self._depth:
                return
            if self._waiting:
                self._owner, turn = self._waiting.popleft()
                self._depth = 1
                turn.release()
            else:
                self._owner = None


def _take_turns(engine: Engine) -> WriteTurns:
    """Make every write transaction on ``engine`` take a :class:`WriteTurns` turn: taken just
    before ``BEGIN IMMEDIATE``, given back after the COMMIT or ROLLBACK that ends it
    (including the rollback the pool issues when a connection comes back)."""
    turns = WriteTurns()
    holding: set[int] = set()  # ids of the DBAPI connections in a turn
    dialect = engine.dialect

    @event.listens_for(engine, "begin")
    def _turn(conn) -> None:
        if not turns.acquire(_remaining()):
            raise DatabaseBusy("no turn at the SQLite write lock within the time allowed")
        holding.add(id(conn.connection.dbapi_connection))

    def _ending(original):
        def end(dbapi_conn) -> None:
            try:
                original(dbapi_conn)
            finally:
                raw = getattr(dbapi_conn, "dbapi_connection", dbapi_conn)
                if id(raw) in holding:
                    holding.discard(id(raw))
                    turns.release()

        return end

    dialect.do_commit = _ending(dialect.do_commit)  # type: ignore[method-assign]
    dialect.do_rollback = _ending(dialect.do_rollback)  # type: ignore[method-assign]
    return turns


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; on SQLite, set the pragmas every connection needs and give write
    transactions of this process their turns (:class:`WriteTurns`). SQL errors never show
    their parameters: a failed INSERT must not print a patient's number or words."""
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _take_turns(engine)  # its "begin" listener must run before the BEGIN below

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # The driver's own transaction handling would defer BEGIN until the first write,
            # which lets two writers read the same row as free; we issue BEGIN ourselves.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:
            # A bounded transaction waits for the lock no longer than it has left; the next
            # transaction on this connection waits the usual time again.
            left = _remaining()
            busy_ms = SQLITE_BUSY_MS if left is None else max(1, int(left * 1000))
            info = conn.connection.info
            if info.get("busy_ms", SQLITE_BUSY_MS) != busy_ms:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={busy_ms}")
                info["busy_ms"] = busy_ms
            # Take the write lock up front: a reader that later writes cannot deadlock or race.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)

    @event.listens_for(engine, "do_connect")
    def _connect_timeout(_dialect, _record, _cargs, cparams) -> None:
        # a bounded transaction's new connection gives up in time (libpq's minimum is 2 s)
        left = _remaining()
        if left is not None:
            cparams["connect_timeout"] = max(2, math.ceil(left))

    return engine


@contextmanager
def bounded_transaction(engine: Engine, seconds: float) -> Iterator[Connection]:
    """One transaction on ``engine`` that waits for the database at most about ``seconds``:
    for its turn and SQLite's write lock (the busy timeout), or on PostgreSQL for a new
    connection (``connect_timeout``), a lock (``lock_timeout``) and each statement
    (``statement_timeout``). Past it, it raises an error :func:`database_unavailable` knows.

    For the inbound webhook, which must answer Twilio within 15 seconds whatever the
    database does; everything else may wait the usual time."""
    outer = getattr(_bounds, "deadline", None)
    _bounds.deadline = time.monotonic() + seconds
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                ms = max(1, int((_remaining() or 0) * 1000))
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
            yield conn
    finally:
        _bounds.deadline = outer


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (default: the latest)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return revision_of(conn)


def revision_of(conn: Connection) -> str | None:
    """The migration revision the database on ``conn`` is at (None: none applied)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT many rows with the same keys, fast: the planner writes tens of thousands.

    - PostgreSQL (psycopg 3): ``COPY ... FROM STDIN`` in the current transaction.
    - SQLite: one executemany of tuples, each value through its column type's own bind
      processor: the values SQLAlchemy would send, without its per-row bookkeeping (most of
      the cost at this volume).
    - Anything else: SQLAlchemy's own executemany.

    Triggers, constraints and foreign keys apply as for any INSERT.
    """
    if not rows:
        return
    names = list(rows[0])
    # a tuple of the row's values in column order (itemgetter of one name returns no tuple)
    get = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    columns = ", ".join(f'"{n}"' for n in names)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        # COPY: one stream for the whole batch, values adapted by psycopg itself
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(get(row))
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), rows)
        return
    # only some columns need converting (timestamps to text, booleans to 0/1)
    convert = [
        (i, proc)
        for i, name in enumerate(names)
        if (proc := table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect))
    ]
    params = []
    for row in rows:
        values = list(get(row))
        for i, proc in convert:
            values[i] = proc(values[i])
        params.append(tuple(values))
    marks = ", ".join("?" * len(names))
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', params)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` is the database's own trouble (unreachable, locked, a deadlock, a
    dropped connection) rather than a fault of the data being written: the first passes, the
    second does not. Drivers' own errors count too (a bulk COPY raises psycopg's directly);
    PEP 249 names the two kinds the same way in every driver."""
    if isinstance(exc, DatabaseBusy) or getattr(exc, "connection_invalidated", False):
        return True
    kinds = {klass.__name__ for klass in type(exc).__mro__}
    return bool(kinds & {"OperationalError", "InterfaceError"})
