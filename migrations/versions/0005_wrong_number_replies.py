"""Replies read as "wrong number": a kind of their own in ``inbound_messages``.

The kind's CHECK constraint gains ``wrong_number``. PostgreSQL swaps the constraint in
place; SQLite cannot alter a CHECK, so batch mode rebuilds the table. Dropping the old table
would cascade to ``flags`` (whose rows point at replies) with foreign keys on, so they are
switched off for the rebuild (between transactions, the only place SQLite allows it) and
checked after.

Revision ID: 0005_wrong_number_replies
Revises: 0004_clinic_hours_escalation
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from followup.store.migration_support import foreign_keys_off

revision: str = "0005_wrong_number_replies"
down_revision: str | None = "0004_clinic_hours_escalation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ("opt_out", "opt_in", "help", "emergency", "clinic_today", "score", "text")
_AFTER = (*_BEFORE[:-1], "wrong_number", "text")
_NAME = "ck_inbound_messages_kind"


def _swap(kinds: tuple[str, ...]) -> None:
    condition = f"kind IN {kinds!r}"
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(_NAME), "inbound_messages", type_="check")
        op.create_check_constraint(op.f(_NAME), "inbound_messages", condition)
        return
    with (
        foreign_keys_off(),
        op.batch_alter_table("inbound_messages", recreate="always") as batch,
    ):
        batch.drop_constraint(batch.f(_NAME), type_="check")
        batch.create_check_constraint(batch.f(_NAME), condition)


def upgrade() -> None:
    _swap(_AFTER)


def downgrade() -> None:
    op.execute("UPDATE inbound_messages SET kind = 'text' WHERE kind = 'wrong_number'")
    _swap(_BEFORE)
