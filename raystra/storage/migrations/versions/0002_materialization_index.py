"""Index of asset materializations, backfilled from the event log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-01

Creates ``asset_materializations`` and fills it from every ``AssetMaterialized`` event already
stored, so databases written before this revision answer "latest materialization" correctly.
The backfill pages through ``events`` by id, so memory stays flat on large logs, and parses
payloads in Python because SQLite and Postgres spell JSON extraction differently.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_PAGE = 1000


def upgrade() -> None:
    table = op.create_table(
        "asset_materializations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("asset_key", sa.String(255), nullable=False),
        sa.Column("partition", sa.String(255)),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step_key", sa.String(255), nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("code_version", sa.String(255)),
        sa.PrimaryKeyConstraint("id", name="pk_asset_materializations"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name="fk_asset_materializations_event_id_events",
            ondelete="CASCADE",
        ),
    )
    _backfill(table)
    # Built after the backfill: one index build is cheaper than maintaining it row by row.
    op.create_index(
        "ix_asset_materializations_asset_key_id", "asset_materializations", ["asset_key", "id"]
    )
    op.create_index(
        "ix_asset_materializations_asset_key_partition_id",
        "asset_materializations",
        ["asset_key", "partition", "id"],
    )


def _backfill(table: sa.Table) -> None:
    events = sa.table(
        "events",
        sa.column("id", sa.Integer),
        sa.column("run_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("timestamp", sa.Float),
        sa.column("payload", sa.Text),
    )
    bind = op.get_bind()
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(events.c.id, events.c.run_id, events.c.timestamp, events.c.payload)
            .where(events.c.kind == "AssetMaterialized", events.c.id > last_id)
            .order_by(events.c.id)
            .limit(_PAGE)
        ).all()
        if not rows:
            return
        values = []
        for row in rows:
            payload = json.loads(row.payload)
            values.append(
                {
                    "event_id": row.id,
                    "asset_key": payload["asset_key"],
                    "partition": payload.get("partition"),
                    "run_id": row.run_id,
                    "step_key": payload["step_key"],
                    "timestamp": row.timestamp,
                    "metadata": payload.get("metadata") or {},
                    "code_version": payload.get("code_version"),
                }
            )
        bind.execute(table.insert(), values)
        last_id = rows[-1].id


def downgrade() -> None:
    op.drop_table("asset_materializations")
