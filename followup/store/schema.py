"""What every table is built on: the declarative base with its naming convention, the
status tuples the CHECK constraints are made from, and the UTC timestamp column type.

All timestamps are stored in UTC (timezone-aware columns on PostgreSQL; SQLite stores naive
UTC, and :class:`UTCDateTime` puts the zone back on the way out).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import (
    DateTime,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase

from followup.store.statuses import (
    AlertChannel,
    AlertPurpose,
    AlertStatus,
    FlagKind,
    FlagStatus,
    MessageStatus,
    ReplyKind,
    SessionStatus,
    values,
)

MESSAGE_STATUSES = values(MessageStatus)
SESSION_STATUSES = values(SessionStatus)
REPLY_KINDS = values(ReplyKind)
FLAG_KINDS = values(FlagKind)
FLAG_STATUSES = values(FlagStatus)
ALERT_CHANNELS = values(AlertChannel)
ALERT_STATUSES = values(AlertStatus)
ALERT_PURPOSES = values(AlertPurpose)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column; attach a time zone first")
    return value


@lru_cache(maxsize=8192)
def _sqlite_utc_text(value: datetime) -> str:
    """How SQLite keeps a UTC timestamp: fixed-width text (the format of SQLAlchemy's SQLite
    DATETIME), so comparing text compares instants. Cached: the planner writes hundreds of
    thousands of timestamps, and many are equal (the run's clock, texts deferred to 08:00)."""
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else _require_aware(value).astimezone(UTC)

    def bind_processor(self, dialect):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite keeps text: one step from datetime to that text, instead of the generic
        # process_bind_param -> SQLite DATETIME chain (the planner binds hundreds of thousands)
        def process(value: datetime | None) -> str | None:
            return None if value is None else _sqlite_utc_text(_require_aware(value))

        return process

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
