"""Automation: schedule/sensor state and cursors, ticks, run keys, automation evaluations.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

``instigator_run_keys`` has (name, run_key) as its primary key: that is what keeps a run key
from launching twice, even with two daemons on one database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "instigator_states",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16)),
        sa.Column("cursor", sa.Text),
        sa.Column("last_tick_at", sa.Double),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_instigator_states"),
    )
    op.create_table(
        "instigator_ticks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tick_at", sa.Double, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_ids", sa.JSON, nullable=False),
        sa.Column("run_keys", sa.JSON, nullable=False),
        sa.Column("skip_reason", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("cursor", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_instigator_ticks"),
    )
    op.create_index("ix_instigator_ticks_name_id", "instigator_ticks", ["name", "id"])
    op.create_table(
        "instigator_run_keys",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("run_key", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("launch_error", sa.Text),
        sa.PrimaryKeyConstraint("name", "run_key", name="pk_instigator_run_keys"),
    )
    op.create_index("ix_instigator_run_keys_run_id", "instigator_run_keys", ["run_id"])
    op.create_table(
        "automation_evaluations",
        sa.Column("asset_key", sa.String(255), nullable=False),
        sa.Column("condition", sa.String(255), nullable=False),
        sa.Column("evaluated_at", sa.Double, nullable=False),
        sa.Column("requested", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.PrimaryKeyConstraint("asset_key", name="pk_automation_evaluations"),
    )


def downgrade() -> None:
    op.drop_table("automation_evaluations")
    op.drop_index("ix_instigator_run_keys_run_id", table_name="instigator_run_keys")
    op.drop_table("instigator_run_keys")
    op.drop_index("ix_instigator_ticks_name_id", table_name="instigator_ticks")
    op.drop_table("instigator_ticks")
    op.drop_table("instigator_states")
