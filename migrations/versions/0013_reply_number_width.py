"""A reply's ``from_number`` and ``to_number`` hold 64 characters, as the webhook keeps.

The webhook keeps a sender up to 64 characters (``webhook_fields.MAX_NUMBER_CHARS``: an
E.164 number, a short code, an alphanumeric sender or a channel address such as
``whatsapp:+1...``), but the columns held 32: on PostgreSQL a longer sender failed the insert
and the reply was answered with a 500 (SQLite does not enforce lengths). Found by the
webhook's fuzz test. SQLite rebuilds the table in batch mode, foreign keys off, as in 0005.

Revision ID: 0013_reply_number_width
Revises: 0012_retention
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from followup.store.migration_support import foreign_keys_off

revision: str = "0013_reply_number_width"
down_revision: str | None = "0012_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("from_number", "to_number")


def _width(new: int, old: int) -> None:
    with foreign_keys_off(), op.batch_alter_table("inbound_messages") as batch:
        for name in _COLUMNS:
            batch.alter_column(name, existing_type=sa.String(old), type_=sa.String(new))


def upgrade() -> None:
    _width(64, 32)


def downgrade() -> None:
    for name in _COLUMNS:
        longest = (
            op.get_bind()
            .exec_driver_sql(f"SELECT MAX(LENGTH({name})) FROM inbound_messages")
            .scalar()
        )
        if longest and longest > 32:
            raise RuntimeError(
                f"inbound_messages.{name} holds values over 32 characters; 0012 cannot hold "
                "them. Keep this revision."
            )
    _width(32, 64)
