"""Engine, sessions and migrations: the one place that knows which database we talk to.

SQLite is the embedded default and gets WAL, a busy timeout and foreign keys on every
connection (SQLite leaves all three off). PostgreSQL is the production database.
The schema is only ever created by Alembic (``followup db upgrade``), so a test database and
a clinic's database are built by the same migrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; on SQLite, set the pragmas every connection needs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # The driver's own transaction handling would defer BEGIN until the first write,
            # which lets two writers read the same row as free; we issue BEGIN ourselves.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:
            # Take the write lock up front: a reader that later writes cannot deadlock or race.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


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
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
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
