"""Indexes the lineage queries walk.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

``raystra lineage`` finds the materialization an input was read from
(``asset_materializations`` by asset, partition and run) and the materializations that read a
given one (``materialization_inputs`` by upstream asset, partition and run). Without these, the
first would scan a partition's whole history and the second the whole lineage table.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_asset_materializations_asset_key_partition_run_id",
        "asset_materializations",
        ["asset_key", "partition", "run_id"],
    )
    # Named explicitly: the naming convention's name would pass Postgres's 63-character limit.
    op.create_index(
        "ix_materialization_inputs_upstream",
        "materialization_inputs",
        ["upstream_asset_key", "upstream_partition", "upstream_run_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_materialization_inputs_upstream", "materialization_inputs")
    op.drop_index(
        "ix_asset_materializations_asset_key_partition_run_id", "asset_materializations"
    )
