"""Alembic environment: runs the migrations in migrations/versions against the configured URL.

The URL comes from the Alembic config (set by ``followup.store.engine.alembic_config``) or,
when Alembic is run by hand, from FOLLOWUP_DATABASE_URL through the same settings loader the
service uses.
"""

from alembic import context

from followup.store.engine import make_engine
from followup.store.migration_support import sqlite_foreign_keys
from followup.store.models import Base

target_metadata = Base.metadata


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from followup.config import load_settings

    return load_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        # batch mode lets ALTER TABLE migrations work on SQLite (it rebuilds the table), and
        # every rebuild, up or down, runs with foreign keys off: dropping the old table would
        # otherwise delete every row that points at it (followup.store.migration_support)
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            sqlite_foreign_keys(connection, on=False)
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                sqlite_foreign_keys(connection, on=True)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
