"""Web UI users and API tokens (``raystra ui --auth``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

A user has one role (viewer, launcher, editor, admin); a token belongs to a user and is
stored only as the SHA-256 of its secret part, so the database never holds a usable token.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_web_users"),
    )
    op.create_table(
        "web_tokens",
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("last_used_at", sa.Double),
        sa.Column("revoked_at", sa.Double),
        sa.PrimaryKeyConstraint("token_id", name="pk_web_tokens"),
        sa.ForeignKeyConstraint(
            ["user_name"],
            ["web_users.name"],
            name="fk_web_tokens_user_name_web_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_web_tokens_user_name", "web_tokens", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_web_tokens_user_name", table_name="web_tokens")
    op.drop_table("web_tokens")
    op.drop_table("web_users")
