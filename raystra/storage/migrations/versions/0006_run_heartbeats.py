"""Run heartbeats and the driver that owns each run, so dead runs can be found and failed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

``heartbeat_at`` is refreshed by the driver while the run is in progress; ``driver_host`` and
``driver_pid`` say which process that is. A run whose heartbeat stopped (or whose driver is
gone from this host) is marked FAILURE by the next raystra command or the daemon.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.Double))
        batch.add_column(sa.Column("driver_host", sa.String(255)))
        batch.add_column(sa.Column("driver_pid", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("driver_pid")
        batch.drop_column("driver_host")
        batch.drop_column("heartbeat_at")
