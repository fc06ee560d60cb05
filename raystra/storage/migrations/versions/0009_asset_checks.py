"""Asset checks: one row per check evaluation (asset, partition, check, run).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Rows are written with the ``AssetCheckEvaluated`` events in the same transaction (the event
log keeps the full event); the indexes serve "latest result of each check of these assets"
and one check's history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "asset_check_results",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("asset_key", sa.String(255), nullable=False),
        sa.Column("check_name", sa.String(255), nullable=False),
        sa.Column("partition", sa.String(255), nullable=False),  # "" when unpartitioned
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step_key", sa.String(255), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("blocking", sa.Boolean, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_asset_check_results"),
    )
    op.create_index(
        "ix_asset_check_results_asset_key_check_name_partition_id",
        "asset_check_results",
        ["asset_key", "check_name", "partition", "id"],
    )
    op.create_index("ix_asset_check_results_run_id", "asset_check_results", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_asset_check_results_run_id", table_name="asset_check_results")
    op.drop_index(
        "ix_asset_check_results_asset_key_check_name_partition_id",
        table_name="asset_check_results",
    )
    op.drop_table("asset_check_results")
