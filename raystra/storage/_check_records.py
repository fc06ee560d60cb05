"""Asset check results: indexed from ``AssetCheckEvaluated`` events, read per asset.

Example:
    >>> from raystra.definitions import AssetKey
    >>> from raystra.events import AssetCheckEvaluated, RunStarted
    >>> from raystra.storage import RunRecord, open_storage
    >>> storage = open_storage("sqlite://")
    >>> storage.add_run(RunRecord(run_id="r1"))
    >>> storage.store_events([AssetCheckEvaluated(
    ...     run_id="r1", step_key="orders:rows", asset_key=AssetKey("orders"),
    ...     check_name="rows", passed=False)])
    >>> [(r.check_name, r.passed) for r in storage.get_check_results(AssetKey("orders"))]
    [('rows', False)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from raystra.definitions._keys import AssetKey
from raystra.events import AssetCheckEvaluated, Event
from raystra.storage._schema import asset_check_results

__all__ = [
    "AssetCheckRecord",
    "check_rows",
    "get_check_results",
    "insert_check_results",
    "latest_check_results",
]


@dataclass(frozen=True, kw_only=True)
class AssetCheckRecord:
    """One stored evaluation of an asset check (for one partition; None: unpartitioned).

    ``error`` is the traceback of a check that raised.
    """

    storage_id: int
    asset_key: AssetKey
    check_name: str
    partition: str | None
    run_id: str
    step_key: str
    passed: bool
    severity: str
    blocking: bool
    timestamp: float
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    error: str | None = None

    @property
    def blocked(self) -> bool:
        """True when this result stopped the asset's downstream steps in its run."""
        return self.blocking and not self.passed and self.severity == "ERROR"


def check_rows(events: Sequence[Event]) -> list[dict[str, Any]]:
    """The ``asset_check_results`` rows for the check events among ``events``."""
    return [
        {
            "asset_key": event.asset_key.to_user_string(),
            "check_name": event.check_name,
            "partition": event.partition or "",
            "run_id": event.run_id,
            "step_key": event.step_key,
            "passed": event.passed,
            "severity": event.severity,
            "blocking": event.blocking,
            "metadata": dict(event.metadata),
            "description": event.description,
            "error": event.error.traceback if event.error else None,
            "timestamp": event.timestamp,
        }
        for event in events
        if isinstance(event, AssetCheckEvaluated)
    ]


def insert_check_results(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert rows made by `check_rows` (inside the transaction storing their events)."""
    if rows:
        conn.execute(asset_check_results.insert(), rows)


def _record(row: Any) -> AssetCheckRecord:
    return AssetCheckRecord(
        storage_id=row.id,
        asset_key=AssetKey.from_user_string(row.asset_key),
        check_name=row.check_name,
        partition=row.partition or None,
        run_id=row.run_id,
        step_key=row.step_key,
        passed=bool(row.passed),
        severity=row.severity,
        blocking=bool(row.blocking),
        timestamp=row.timestamp,
        metadata=row.metadata or {},
        description=row.description,
        error=row.error,
    )


def get_check_results(
    engine: Engine,
    asset_key: AssetKey,
    *,
    check_name: str | None = None,
    partition: str | None = None,
    run_id: str | None = None,
    limit: int = 100,
) -> list[AssetCheckRecord]:
    """An asset's check results, newest first, optionally of one check, partition or run."""
    table = asset_check_results
    query = select(table).where(table.c.asset_key == asset_key.to_user_string())
    if check_name is not None:
        query = query.where(table.c.check_name == check_name)
    if partition is not None:
        query = query.where(table.c.partition == partition)
    if run_id is not None:
        query = query.where(table.c.run_id == run_id)
    query = query.order_by(table.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [_record(row) for row in conn.execute(query)]


def latest_check_results(
    engine: Engine, asset_keys: Iterable[AssetKey] | None = None
) -> dict[AssetKey, list[AssetCheckRecord]]:
    """Per asset, the newest result of each (check, partition), ordered by check, partition."""
    table = asset_check_results
    newest = select(func.max(table.c.id).label("id")).group_by(
        table.c.asset_key, table.c.check_name, table.c.partition
    )
    if asset_keys is not None:
        names = [key.to_user_string() for key in asset_keys]
        if not names:
            return {}
        newest = newest.where(table.c.asset_key.in_(names))
    query = (
        select(table)
        .where(table.c.id.in_(newest.scalar_subquery()))
        .order_by(table.c.asset_key, table.c.check_name, table.c.partition)
    )
    found: dict[AssetKey, list[AssetCheckRecord]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            record = _record(row)
            found.setdefault(record.asset_key, []).append(record)
    return found
