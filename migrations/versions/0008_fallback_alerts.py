"""``staff_alerts.clinic_id`` may be NULL: a fallback alert, which no clinic was given.

An urgent reply from a number no clinic behind the shared sender has on file has no clinic
to page; its alert goes to ``FOLLOWUP_FALLBACK_ALERT_TO`` and is kept, retried and reported
like every other alert. SQLite cannot drop a NOT NULL in place: batch mode rebuilds
``staff_alerts`` (nothing points at it, but foreign keys are off for the rebuild as in every
rebuild, and checked after).

The downgrade refuses while such alerts exist: deleting them would lose the record that an
emergency was paged, and a NOT NULL cannot hold them.

Revision ID: 0008_fallback_alerts
Revises: 0007_plan_errors
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from followup.store.migration_support import foreign_keys_off

revision: str = "0008_fallback_alerts"
down_revision: str | None = "0007_plan_errors"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with foreign_keys_off(), op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.alter_column("clinic_id", existing_type=_ID, nullable=True)


def downgrade() -> None:
    held = (
        op.get_bind()
        .exec_driver_sql("SELECT COUNT(*) FROM staff_alerts WHERE clinic_id IS NULL")
        .scalar()
    )
    if held:
        raise RuntimeError(
            f"{held} fallback alert(s) have no clinic; 0007 cannot hold them. "
            "Keep this revision, or export and delete them first."
        )
    with foreign_keys_off(), op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.alter_column("clinic_id", existing_type=_ID, nullable=False)
