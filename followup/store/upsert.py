"""INSERT ... ON CONFLICT DO NOTHING RETURNING id, on SQLite and PostgreSQL alike.

Webhooks are retried by Twilio and may race each other; the unique key decides who was first,
inside the database, instead of a read-then-insert that two requests can both pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    db: Session | Connection, model: type, values: dict[str, Any], conflict: Sequence[str]
) -> int | None:
    """Insert one row; its id, or None when a row with the same ``conflict`` key exists."""
    bind = db.get_bind() if isinstance(db, Session) else db
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(model.id)
    )
    return db.execute(stmt).scalar_one_or_none()
