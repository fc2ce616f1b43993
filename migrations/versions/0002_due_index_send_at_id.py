"""The due index covers the claim's whole sort: (send_at, id) instead of send_at alone.

The claim reads due texts ``ORDER BY send_at, id LIMIT n``. When many texts share one
``send_at`` (texts held overnight by quiet hours all become due at 08:00), an index on
``send_at`` alone made PostgreSQL read and sort every one of them to return the first 100:
``bench/dispatch.py`` measured 7.6 ms at a million rows with 10,000 due at one instant,
against 0.8 ms at ten thousand rows. With ``id`` in the index the rows come out in order.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_messages_due")
        batch_op.create_index(
            "ix_outbound_messages_due",
            ["send_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'scheduled'"),
            sqlite_where=sa.text("status = 'scheduled'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_messages_due")
        batch_op.create_index(
            "ix_outbound_messages_due",
            ["send_at"],
            unique=False,
            postgresql_where=sa.text("status = 'scheduled'"),
            sqlite_where=sa.text("status = 'scheduled'"),
        )
