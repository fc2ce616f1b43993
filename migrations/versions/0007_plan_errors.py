"""``treatment_sessions.plan_error``: why a session could not be planned.

The planner marks a session it cannot plan (a time zone no database knows, a care plan that
no longer parses, a row that breaks a constraint) with the error and goes on with every other
session, instead of failing the whole run on it every tick. Adding a nullable column needs
no table rebuild on either database, so the downgrade only drops it again.

Revision ID: 0007_plan_errors
Revises: 0006_nudge_safety_flags
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_plan_errors"
down_revision: str | None = "0006_nudge_safety_flags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("treatment_sessions", sa.Column("plan_error", sa.String(500), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (no rebuild, so no cascade); the error texts are
    # diagnostics, re-derived by the next planning run
    op.drop_column("treatment_sessions", "plan_error")
