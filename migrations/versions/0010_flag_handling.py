"""Flags are assigned and closed, not only acknowledged.

- ``flags.status`` gains ``closed``: handled and done. An acknowledged flag stays on the
  staff's list ("in hand") until someone closes it, so a flag somebody said they would deal
  with cannot vanish before it is dealt with.
- ``assigned_to`` / ``assigned_at``: the staff member (login e-mail) the flag was given to.
- ``closed_by`` / ``closed_at``: who closed it, and when.

PostgreSQL swaps the status CHECK in place; SQLite cannot alter a CHECK, so batch mode
rebuilds ``flags`` with foreign keys off (``staff_alerts`` points at it), as in 0005.

The downgrade turns closed flags back into acknowledged ones (they were acknowledged first)
and drops the new columns; the audit log keeps who assigned and closed what.

Revision ID: 0010_flag_handling
Revises: 0009_staff_accounts
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from followup.store.migration_support import foreign_keys_off
from followup.store.schema import UTCDateTime

revision: str = "0010_flag_handling"
down_revision: str | None = "0009_staff_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ("open", "acknowledged")
_AFTER = ("open", "acknowledged", "closed")
_NAME = "ck_flags_status"
_COLUMNS = (
    ("assigned_to", sa.String(254)),
    ("assigned_at", UTCDateTime()),
    ("closed_by", sa.String(120)),
    ("closed_at", UTCDateTime()),
)


def _rebuild(statuses: tuple[str, ...], *, add: bool) -> None:
    condition = f"status IN {statuses!r}"
    sqlite = op.get_bind().dialect.name == "sqlite"
    with (
        foreign_keys_off(),
        op.batch_alter_table("flags", recreate="always" if sqlite else "auto") as batch,
    ):
        batch.drop_constraint(batch.f(_NAME), type_="check")
        batch.create_check_constraint(batch.f(_NAME), condition)
        for name, type_ in _COLUMNS:
            if add:
                batch.add_column(sa.Column(name, type_, nullable=True))
            else:
                batch.drop_column(name)


def upgrade() -> None:
    _rebuild(_AFTER, add=True)


def downgrade() -> None:
    op.execute("UPDATE flags SET status = 'acknowledged' WHERE status = 'closed'")
    _rebuild(_BEFORE, add=False)
