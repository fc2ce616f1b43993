"""Help for migrations that rebuild SQLite tables (batch mode): keep the rows of every table
that points at the one rebuilt.

SQLite cannot alter a column's nullability or a CHECK constraint in place, so Alembic's
batch mode copies the table and drops the old one. With foreign keys on, that DROP TABLE
deletes (ON DELETE CASCADE) every row of every table that points at it: rebuilding
``clinics`` would empty ``patients``, ``outbound_messages`` and ``flags``. So rebuilds run
with foreign keys off, switched between transactions (the only place SQLite allows it),
and the keys are checked after. On PostgreSQL this does nothing: it alters in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op
from sqlalchemy import Connection


def sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Switch SQLite's foreign keys for a whole migration run (``migrations/env.py``), on
    the driver's connection before any transaction begins; switching them back on checks
    that the run left no broken key."""
    raw = connection.connection.dbapi_connection
    if raw.in_transaction:
        raw.execute("COMMIT")
    if on:
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migrations: {broken[:5]}")
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


@contextmanager
def foreign_keys_off() -> Iterator[None]:
    """Run the block with SQLite's foreign keys off; fail if it left a broken key. Nothing
    to do when the whole run already has them off (``migrations/env.py``)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite and not op.get_bind().exec_driver_sql("PRAGMA foreign_keys").scalar():
        yield
        return
    if sqlite:
        _pragma("foreign_keys=OFF")
    try:
        yield
    finally:
        if sqlite:
            _pragma("foreign_keys=ON")
    if sqlite:
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")


def _pragma(setting: str) -> None:
    """Set a SQLite pragma between transactions. Alembic's autocommit block still begins a
    transaction (and the engine begins each with BEGIN IMMEDIATE), inside which SQLite
    ignores this pragma: so the driver's connection ends it, sets the pragma, and begins
    again for the block to end as it expects."""
    with op.get_context().autocommit_block():
        raw = op.get_bind().connection.dbapi_connection
        if raw.in_transaction:
            raw.execute("COMMIT")
        raw.execute(f"PRAGMA {setting}")
        raw.execute("BEGIN IMMEDIATE")
