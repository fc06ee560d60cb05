"""Each run's W3C trace context, so its trace can be found and joined later.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

``trace_context`` holds the run's ``traceparent`` (``00-<trace id>-<span id>-01``) when tracing
was on for it; NULL otherwise, including for every run recorded before this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("trace_context", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("trace_context")
