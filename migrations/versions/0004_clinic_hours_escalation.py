"""Opening hours and escalations: clinics say when they are open, how long flags may wait
and who the second contact is; flags remember their escalation; alerts say why they went.

- ``clinics``: ``opening_hours`` (JSON, NULL = Mon-Fri 09:00-17:00), the minutes a review
  flag may wait in open time (120) and an emergency / clinic-today flag in wall-clock time
  (15 / 60) before escalating, and ``second_contact`` (a number or an Apprise URL).
- ``flags``: ``review_alerted_at`` and ``second_contact_at``, set once when the escalation
  is queued; a partial index on open flags by kind and age for the escalation scan.
- ``staff_alerts``: ``purpose`` (flag, overdue, second_contact); existing rows are ``flag``.

SQLite rebuilds ``clinics``, ``flags`` and ``staff_alerts`` in batch mode, with foreign keys
off so no row that points at them is deleted (:mod:`followup.store.migration_support`).

Revision ID: 0004_clinic_hours_escalation
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from followup.store.migration_support import foreign_keys_off

revision: str = "0004_clinic_hours_escalation"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with foreign_keys_off():
        _upgrade()


def downgrade() -> None:
    with foreign_keys_off():
        _downgrade()


def _upgrade() -> None:
    # SQLite rebuilds these tables: with foreign keys on, dropping the old ``clinics`` would
    # delete every patient, text and flag (see followup.store.migration_support)
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opening_hours", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "review_alert_minutes", sa.Integer(), server_default=sa.text("120"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "emergency_second_minutes",
                sa.Integer(),
                server_default=sa.text("15"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "clinic_today_second_minutes",
                sa.Integer(),
                server_default=sa.text("60"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("second_contact", sa.Text(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_clinics_escalation_minutes"),
            "review_alert_minutes > 0 AND emergency_second_minutes > 0"
            " AND clinic_today_second_minutes > 0",
        )

    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_alerted_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("second_contact_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_flags_open_kind_created_at",
            ["kind", "created_at"],
            unique=False,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )

    with op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "purpose", sa.String(length=16), server_default=sa.text("'flag'"), nullable=False
            )
        )
        batch_op.create_check_constraint(
            op.f("ck_staff_alerts_purpose"), "purpose IN ('flag', 'overdue', 'second_contact')"
        )


def _downgrade() -> None:
    with op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_staff_alerts_purpose"), type_="check")
        batch_op.drop_column("purpose")

    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_flags_open_kind_created_at",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )
        batch_op.drop_column("second_contact_at")
        batch_op.drop_column("review_alerted_at")

    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_clinics_escalation_minutes"), type_="check")
        batch_op.drop_column("second_contact")
        batch_op.drop_column("clinic_today_second_minutes")
        batch_op.drop_column("emergency_second_minutes")
        batch_op.drop_column("review_alert_minutes")
        batch_op.drop_column("opening_hours")
