"""Runs and their event log.

Revision ID: 0001
Revises:
Create Date: 2026-05-01

A frozen copy of the schema at this revision: migrations never import `raystra.storage._schema`,
which keeps moving.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("job_name", sa.String(255)),
        sa.Column("selection", sa.JSON, nullable=False),
        sa.Column("run_config", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("parent_run_id", sa.String(64)),
        sa.Column("root_run_id", sa.String(64)),
        sa.Column("executor", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("started_at", sa.Double),
        sa.Column("ended_at", sa.Double),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_runs_status", "runs", ["status"])

    op.create_table(
        "events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("step_key", sa.String(255)),
        sa.Column("asset_key", sa.String(255)),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("batch_index", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_events_run_id_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_events_run_id_id", "events", ["run_id", "id"])
    op.create_index("ix_events_run_id_step_key", "events", ["run_id", "step_key"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("runs")
