"""The run storage schema, in SQLAlchemy Core.

Three tables: ``runs`` (one row per run, status derived from its events), ``events`` (the
append-only log, each event's `event_to_dict` payload as JSON text) and
``asset_materializations`` (an index of ``AssetMaterialized`` events, so "latest per asset" and
"history of a partition" never scan the log).

This module is the schema the code reads and writes; the migrations in
``raystra/storage/migrations/versions`` create it and are frozen copies, never imports of it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert_sentinel,
)

__all__ = ["asset_materializations", "events", "metadata", "runs"]

# Explicit constraint names keep migrations reproducible across SQLite and Postgres.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# 64-bit ids on Postgres (event logs outgrow 2**31); SQLite only autoincrements INTEGER.
_ID = BigInteger().with_variant(Integer, "sqlite")

# Keys are bounded by what users type (asset paths, partition keys); 255 fits Postgres btree
# limits with room to spare and costs nothing on SQLite.
_KEY = 255

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("job_name", String(_KEY)),
    Column("selection", JSON, nullable=False),
    Column("run_config", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("parent_run_id", String(64)),
    Column("root_run_id", String(64)),
    Column("executor", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("started_at", Double),
    Column("ended_at", Double),
    Index(None, "created_at"),
    Index(None, "status"),
)

events = Table(
    "events",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("step_key", String(_KEY)),
    Column("asset_key", String(_KEY)),
    Column("timestamp", Double, nullable=False),
    Column("payload", Text, nullable=False),
    # The event's position in its `store_events` batch. SQLite does not promise RETURNING rows
    # in insert order, so SQLAlchemy needs this "sentinel" to map a batch's new ids back to
    # its events in one multi-row INSERT (without it, it falls back to a statement per row).
    insert_sentinel("batch_index"),
    Index(None, "run_id", "id"),
    Index(None, "run_id", "step_key"),
)

asset_materializations = Table(
    "asset_materializations",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("event_id", _ID, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("asset_key", String(_KEY), nullable=False),
    Column("partition", String(_KEY)),
    Column("run_id", String(64), nullable=False),
    Column("step_key", String(_KEY), nullable=False),
    Column("timestamp", Double, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("code_version", String(_KEY)),
    Index(None, "asset_key", "id"),
    Index(None, "asset_key", "partition", "id"),
)
