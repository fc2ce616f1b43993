"""Retention: how many days a clinic keeps its patients' words, and the runs of jobs that
must happen once per period across every worker.

``clinics.retention_days`` (default 365, at least 30): message bodies and reply texts older
than that are cleared by the retention run; events, statuses, scores and counts stay.
``job_runs``: one row per (job, period); the unique key lets exactly one worker claim
"retention for day D" however many run.

The downgrade refuses while a clinic keeps another period than the default: dropping the
column would silently give it the default back.

Revision ID: 0012_retention
Revises: 0011_clinic_wording
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from followup.store.migration_support import foreign_keys_off
from followup.store.schema import UTCDateTime

revision: str = "0012_retention"
down_revision: str | None = "0011_clinic_wording"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite rebuilds ``clinics``: with foreign keys on, dropping the old table would delete
    # every patient, text and flag (see followup.store.migration_support)
    with foreign_keys_off(), op.batch_alter_table("clinics") as batch:
        batch.add_column(
            sa.Column("retention_days", sa.Integer(), nullable=False, server_default=sa.text("365"))
        )
        batch.create_check_constraint(op.f("ck_clinics_retention_days"), "retention_days >= 30")
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job", "period", name=op.f("uq_job_runs_job_period")),
    )


def downgrade() -> None:
    kept = (
        op.get_bind()
        .exec_driver_sql("SELECT COUNT(*) FROM clinics WHERE retention_days <> 365")
        .scalar()
    )
    if kept:
        raise RuntimeError(
            f"{kept} clinic(s) keep their patients' words for another period than 365 days; "
            "0011 has no place for it. Keep this revision, or set them back to 365 first."
        )
    op.drop_table("job_runs")
    with foreign_keys_off(), op.batch_alter_table("clinics") as batch:
        batch.drop_constraint(op.f("ck_clinics_retention_days"), type_="check")
        batch.drop_column("retention_days")
