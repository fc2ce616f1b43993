"""Flags the outbox raises, and the indexes the nudges read.

- ``flags.inbound_id`` may be NULL and ``flags.message_id`` names the text a flag is about:
  a safety text a limit held back, a nudge nobody answered. Unique, so each such text raises
  one flag however many workers or re-plans see it.
- ``ix_outbound_messages_sent_template``: safety check-ins sent lately, which the nudge looks
  for every tick (only sent rows are indexed, so planning writes no entry).
- ``ix_outbound_messages_nudges``: the nudges, for their staff follow-up.

SQLite cannot drop a NOT NULL in place: batch mode rebuilds ``flags``, and dropping the old
table would cascade to ``staff_alerts`` with foreign keys on, so they are switched off for
the rebuild (outside a transaction, the only place SQLite allows it) and checked after.

Revision ID: 0006_nudge_safety_flags
Revises: 0005_wrong_number_replies
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from followup.store.migration_support import foreign_keys_off

revision: str = "0006_nudge_safety_flags"
down_revision: str | None = "0005_wrong_number_replies"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with foreign_keys_off(), op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.alter_column("inbound_id", existing_type=_ID, nullable=True)
        batch_op.add_column(sa.Column("message_id", _ID, nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_flags_message_id"), ["message_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_flags_message_id_outbound_messages"),
            "outbound_messages",
            ["message_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbound_messages_sent_template",
            ["template_key", "sent_at"],
            unique=False,
            postgresql_where=sa.text("sent_at IS NOT NULL"),
            sqlite_where=sa.text("sent_at IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_outbound_messages_nudges",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("step = 'nudge'"),
            sqlite_where=sa.text("step = 'nudge'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_messages_nudges")
        batch_op.drop_index("ix_outbound_messages_sent_template")
    # flags the outbox raised have no reply to point at: they go with the column
    op.execute("DELETE FROM flags WHERE inbound_id IS NULL")
    with foreign_keys_off(), op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_flags_message_id_outbound_messages"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_flags_message_id"), type_="unique")
        batch_op.drop_column("message_id")
        batch_op.alter_column("inbound_id", existing_type=_ID, nullable=False)
