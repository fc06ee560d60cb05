"""Partition status, lineage, backfills and dynamic partitions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

``asset_partitions`` is filled from the materialization index (latest row per asset and
partition), so databases written before this revision know what is already materialized.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_KEY = 255


def upgrade() -> None:
    op.create_table(
        "asset_partitions",
        sa.Column("asset_key", sa.String(_KEY), nullable=False),
        sa.Column("partition", sa.String(_KEY), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("event_id", _ID),
        sa.Column("materialized_run_id", sa.String(64)),
        sa.Column("code_version", sa.String(_KEY)),
        sa.Column("data_version", sa.String(64)),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("asset_key", "partition", name="pk_asset_partitions"),
    )
    op.execute(
        """
        INSERT INTO asset_partitions (asset_key, partition, status, run_id, event_id,
            materialized_run_id, code_version, data_version, updated_at)
        SELECT m.asset_key, COALESCE(m.partition, ''), 'materialized', m.run_id, m.event_id,
            m.run_id, m.code_version, NULL, m.timestamp
        FROM asset_materializations m
        WHERE m.id IN (
            SELECT MAX(id) FROM asset_materializations GROUP BY asset_key, partition
        )
        """
    )
    op.create_table(
        "materialization_inputs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("upstream_asset_key", sa.String(_KEY), nullable=False),
        sa.Column("upstream_partition", sa.String(_KEY), nullable=False),
        sa.Column("upstream_run_id", sa.String(64)),
        sa.Column("upstream_data_version", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_materialization_inputs"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name="fk_materialization_inputs_event_id_events",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_materialization_inputs_event_id", "materialization_inputs", ["event_id"]
    )
    op.create_table(
        "backfills",
        sa.Column("backfill_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("selection", sa.JSON, nullable=False),
        sa.Column("partitions", sa.JSON, nullable=False),
        sa.Column("run_ids", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("backfill_id", name="pk_backfills"),
    )
    op.create_index("ix_backfills_created_at", "backfills", ["created_at"])
    op.create_table(
        "backfill_targets",
        sa.Column("backfill_id", sa.String(64), nullable=False),
        sa.Column("asset_key", sa.String(_KEY), nullable=False),
        sa.Column("partition", sa.String(_KEY), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.PrimaryKeyConstraint(
            "backfill_id", "asset_key", "partition", name="pk_backfill_targets"
        ),
    )
    op.create_table(
        "dynamic_partitions",
        sa.Column("name", sa.String(_KEY), nullable=False),
        sa.Column("partition_key", sa.String(_KEY), nullable=False),
        sa.Column("added_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("name", "partition_key", name="pk_dynamic_partitions"),
    )


def downgrade() -> None:
    for table in (
        "dynamic_partitions",
        "backfill_targets",
        "backfills",
        "materialization_inputs",
        "asset_partitions",
    ):
        op.drop_table(table)
