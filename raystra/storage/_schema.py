"""The run storage schema, in SQLAlchemy Core.

Three tables: ``runs`` (one row per run, status derived from its events), ``events`` (the
append-only log, each event's `event_to_dict` payload as JSON text) and
``asset_materializations`` (an index of ``AssetMaterialized`` events, so "latest per asset" and
"history of a partition" never scan the log). Partitions add ``asset_partitions`` (latest state
per asset partition), ``materialization_inputs`` (lineage), ``backfills``/``backfill_targets``
and ``dynamic_partitions``.

This module is the schema the code reads and writes; the migrations in
``raystra/storage/migrations/versions`` create it and are frozen copies, never imports of it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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

__all__ = [
    "asset_check_results",
    "asset_materializations",
    "asset_partitions",
    "automation_evaluations",
    "backfill_targets",
    "backfills",
    "dynamic_partitions",
    "events",
    "instigator_run_keys",
    "instigator_states",
    "instigator_ticks",
    "materialization_inputs",
    "metadata",
    "runs",
    "web_tokens",
    "web_users",
]

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
    Column("trace_context", String(64)),  # W3C traceparent when the run was traced
    # Refreshed by the driver while the run is in progress (see raystra.api._monitor).
    Column("heartbeat_at", Double),
    Column("driver_host", String(_KEY)),
    Column("driver_pid", Integer),
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
    Index(None, "asset_key", "partition", "run_id"),  # lineage: the materialization a run made
)

# Latest state of every asset partition ("" for unpartitioned assets): one row each, updated in
# place, so "which of 100,000 partitions are missing or stale" is one indexed range scan.
asset_partitions = Table(
    "asset_partitions",
    metadata,
    Column("asset_key", String(_KEY), primary_key=True),
    Column("partition", String(_KEY), primary_key=True),
    Column("status", String(16), nullable=False),  # materialized | failed
    Column("run_id", String(64), nullable=False),
    Column("event_id", _ID),  # the last materialization (kept when a later attempt failed)
    Column("materialized_run_id", String(64)),
    Column("code_version", String(_KEY)),
    Column("data_version", String(64)),
    Column("updated_at", Double, nullable=False),
)

# What each materialization read: one row per upstream (asset, partition), with the upstream
# materialization's run and data version at the time.
materialization_inputs = Table(
    "materialization_inputs",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("event_id", _ID, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("upstream_asset_key", String(_KEY), nullable=False),
    Column("upstream_partition", String(_KEY), nullable=False),
    Column("upstream_run_id", String(64)),
    Column("upstream_data_version", String(64)),
    Index(None, "event_id"),
    # Lineage downstream: who read this materialization. Named: the convention's name would
    # pass Postgres's 63-character limit.
    Index(
        "ix_materialization_inputs_upstream",
        "upstream_asset_key",
        "upstream_partition",
        "upstream_run_id",
    ),
)

backfills = Table(
    "backfills",
    metadata,
    Column("backfill_id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("selection", JSON, nullable=False),
    Column("partitions", JSON, nullable=False),  # how the user asked: range, keys, all
    Column("run_ids", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Index(None, "created_at"),
)

backfill_targets = Table(
    "backfill_targets",
    metadata,
    Column("backfill_id", String(64), primary_key=True),
    Column("asset_key", String(_KEY), primary_key=True),
    Column("partition", String(_KEY), primary_key=True),
    # requested | materialized | failed | skipped | canceled
    Column("status", String(16), nullable=False),
    Column("run_id", String(64)),
)

dynamic_partitions = Table(
    "dynamic_partitions",
    metadata,
    Column("name", String(_KEY), primary_key=True),
    Column("partition_key", String(_KEY), primary_key=True),
    Column("added_at", Double, nullable=False),
)

# The web UI's users and API tokens (``raystra ui --auth``); a token is kept only as the
# SHA-256 of its secret, so reading the database never yields a usable token.
web_users = Table(
    "web_users",
    metadata,
    Column("name", String(_KEY), primary_key=True),
    Column("role", String(16), nullable=False),  # viewer | launcher | editor | admin
    Column("created_at", Double, nullable=False),
)

web_tokens = Table(
    "web_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column(
        "user_name",
        String(_KEY),
        ForeignKey("web_users.name", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("secret_hash", String(64), nullable=False),
    Column("description", String(_KEY), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("last_used_at", Double),
    Column("revoked_at", Double),
)

# Automation (schedules and sensors: "instigators"). One state row per instigator: the status a
# user set (NULL: the definition's default), the cursor, and the last tick evaluated.
instigator_states = Table(
    "instigator_states",
    metadata,
    Column("name", String(_KEY), primary_key=True),
    Column("kind", String(16), nullable=False),  # schedule | sensor
    Column("status", String(16)),  # running | stopped | NULL
    Column("cursor", Text),
    Column("last_tick_at", Double),
    Column("updated_at", Double, nullable=False),
)

# Every evaluation that did something or failed: success (runs requested), skipped, failed.
instigator_ticks = Table(
    "instigator_ticks",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(_KEY), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("tick_at", Double, nullable=False),
    Column("status", String(16), nullable=False),
    Column("run_ids", JSON, nullable=False),
    Column("run_keys", JSON, nullable=False),
    Column("skip_reason", Text),
    Column("error", Text),
    Column("cursor", Text),
    Column("created_at", Double, nullable=False),
    Index(None, "name", "id"),
)

# Run keys already requested, per instigator: the primary key is what makes "the same key never
# launches twice" hold across daemons. ``request`` is the launch (selection, partition, tags),
# so a launch whose daemon died before the run was recorded is picked up again with the same
# run id (and a second daemon trying the same run id is refused by runs' primary key).
instigator_run_keys = Table(
    "instigator_run_keys",
    metadata,
    Column("name", String(_KEY), primary_key=True),
    Column("run_key", String(_KEY), primary_key=True),
    Column("run_id", String(64), nullable=False, index=True),
    Column("request", JSON, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("launch_error", Text),
)

# The latest automation-condition evaluation of each asset (what the daemon decided and why).
automation_evaluations = Table(
    "automation_evaluations",
    metadata,
    Column("asset_key", String(_KEY), primary_key=True),
    Column("condition", String(_KEY), nullable=False),
    Column("evaluated_at", Double, nullable=False),
    Column("requested", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("run_id", String(64)),
)

# One row per asset check evaluation (see migration 0009): latest per check and partition is
# an index range scan; the full event stays in the event log.
asset_check_results = Table(
    "asset_check_results",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("asset_key", String(_KEY), nullable=False),
    Column("check_name", String(_KEY), nullable=False),
    Column("partition", String(_KEY), nullable=False),  # "" when unpartitioned
    Column("run_id", String(64), nullable=False),
    Column("step_key", String(_KEY), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("blocking", Boolean, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("description", Text),
    Column("error", Text),
    Column("timestamp", Double, nullable=False),
    Index(None, "asset_key", "check_name", "partition", "id"),
    Index(None, "run_id"),
)
