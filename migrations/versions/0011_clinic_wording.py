"""A clinic's own wording of its texts: one row per clinic, template key and locale.

A new table only. The downgrade refuses while it holds a row: dropping it would silently
send the clinics' patients the default texts instead of the ones the clinics chose.

Revision ID: 0011_clinic_wording
Revises: 0010_flag_handling
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from followup.store.schema import UTCDateTime

revision: str = "0011_clinic_wording"
down_revision: str | None = "0010_flag_handling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinic_wordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("template_key", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_clinic_wordings_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_wordings")),
        sa.UniqueConstraint(
            "clinic_id",
            "template_key",
            "locale",
            name=op.f("uq_clinic_wordings_clinic_id_template_key_locale"),
        ),
    )


def downgrade() -> None:
    held = op.get_bind().exec_driver_sql("SELECT COUNT(*) FROM clinic_wordings").scalar()
    if held:
        raise RuntimeError(
            f"{held} clinic wording(s) exist; 0009 has no place for them. Keep this revision, "
            "or revert the clinics' wording to the defaults first."
        )
    op.drop_table("clinic_wordings")
