"""Backfill records: what was asked for, the runs that did it, and each target's status."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select

from raystra.errors import RaystraError
from raystra.storage._engine import write_transaction
from raystra.storage._partition_index import UNPARTITIONED, upsert
from raystra.storage._schema import backfill_targets, backfills

__all__ = [
    "BackfillRecord",
    "add_backfill",
    "backfill_target_statuses",
    "get_backfill",
    "list_backfills",
    "set_backfill_targets",
    "update_backfill",
]

# A target still to do after these (what `raystra backfill resume` re-runs).
RESUMABLE = frozenset({"requested", "failed", "skipped", "canceled", "missing"})


@dataclass(frozen=True, kw_only=True)
class BackfillRecord:
    """One backfill: its request, status, runs, and target counts by status.

    ``status`` is REQUESTED, RUNNING, COMPLETED (every target materialized), FAILED (some
    targets failed or were skipped) or CANCELED.
    """

    backfill_id: str
    status: str
    selection: tuple[str, ...]
    partitions: Mapping[str, Any]
    run_ids: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """How many (asset, partition) targets the backfill has."""
        return sum(self.counts.values())


def add_backfill(engine: Engine, record: BackfillRecord) -> None:
    """Insert a new backfill record."""
    now = time.time()
    values = {
        "backfill_id": record.backfill_id,
        "status": record.status,
        "selection": list(record.selection),
        "partitions": dict(record.partitions),
        "run_ids": list(record.run_ids),
        "tags": dict(record.tags),
        "created_at": record.created_at or now,
        "updated_at": now,
    }
    write_transaction(engine, lambda conn: conn.execute(backfills.insert(), values))


def update_backfill(
    engine: Engine, backfill_id: str, *, status: str | None = None, add_run_id: str | None = None
) -> None:
    """Change a backfill's status and/or append a run to it.

    The run list is read and written in one locked transaction, so runs appended at the same
    time by several processes are all kept.
    """
    full_id = get_backfill(engine, backfill_id).backfill_id  # resolves a prefix
    where = backfills.c.backfill_id == full_id

    def update(conn: Connection) -> None:
        values: dict[str, Any] = {"updated_at": time.time()}
        if status is not None:
            values["status"] = status
        if add_run_id is not None:
            query = select(backfills.c.run_ids).where(where).with_for_update()
            values["run_ids"] = [*conn.execute(query).scalar_one(), add_run_id]
        conn.execute(backfills.update().where(where).values(values))

    write_transaction(engine, update, lock=add_run_id is not None)


def set_backfill_targets(
    engine: Engine,
    backfill_id: str,
    statuses: Iterable[tuple[str, str | None, str]],
    *,
    run_id: str | None = None,
) -> None:
    """Set the status of (asset key, partition, status) targets, adding new ones."""
    rows = [
        {
            "backfill_id": backfill_id,
            "asset_key": asset_key,
            "partition": partition or UNPARTITIONED,
            "status": status,
            "run_id": run_id,
        }
        for asset_key, partition, status in statuses
    ]

    def store(conn: Connection) -> None:
        for start in range(0, len(rows), 5_000):
            upsert(
                conn,
                backfill_targets,
                rows[start : start + 5_000],
                keys=("backfill_id", "asset_key", "partition"),
                update=("status", "run_id"),
            )

    write_transaction(engine, store)


def backfill_target_statuses(engine: Engine, backfill_id: str) -> dict[tuple[str, str | None], str]:
    """(asset key, partition or None) -> status, for every target of the backfill."""
    table = backfill_targets
    query = select(table.c.asset_key, table.c.partition, table.c.status).where(
        table.c.backfill_id == backfill_id
    )
    with engine.connect() as conn:
        return {(row.asset_key, row.partition or None): row.status for row in conn.execute(query)}


def get_backfill(engine: Engine, backfill_id: str) -> BackfillRecord:
    """The backfill with this id or unique id prefix; a clear error otherwise."""
    query = select(backfills).where(
        backfills.c.backfill_id.startswith(backfill_id, autoescape=True)
    )
    with engine.connect() as conn:
        rows = list(conn.execute(query.limit(2)))
    if not backfill_id or not rows:
        raise RaystraError(
            f"No backfill {backfill_id!r} in the run storage. `raystra backfill list` shows "
            "the backfills."
        )
    if len(rows) > 1:
        raise RaystraError(
            f"Backfill id prefix {backfill_id!r} matches several backfills; give more of the id."
        )
    return _record(engine, rows[0])


def list_backfills(engine: Engine, *, limit: int = 20) -> list[BackfillRecord]:
    """Most recent backfills first."""
    query = select(backfills).order_by(backfills.c.created_at.desc()).limit(limit)
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    return [_record(engine, row) for row in rows]


def _record(engine: Engine, row: Any) -> BackfillRecord:
    counts = Counter(backfill_target_statuses(engine, row.backfill_id).values())
    return BackfillRecord(
        backfill_id=row.backfill_id,
        status=row.status,
        selection=tuple(row.selection),
        partitions=row.partitions,
        run_ids=tuple(row.run_ids),
        tags=row.tags,
        created_at=row.created_at,
        updated_at=row.updated_at,
        counts=dict(counts),
    )


def resumable(statuses: Mapping[tuple[str, str | None], str]) -> Sequence[tuple[str, str | None]]:
    """Targets a resume re-runs: failed, skipped, canceled or never reached."""
    return [target for target, status in statuses.items() if status in RESUMABLE]
