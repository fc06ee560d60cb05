"""The run storage contract: runs, their events, and an index of materializations.

A storage is a few methods over a SQL schema (`raystra.storage.sql` implements it for SQLite
and PostgreSQL). Everything except `RunRecord` creation is derived from events: run status
from run events, step status from step events, the materialization index from
`AssetMaterialized`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raystra.definitions._keys import AssetKey
from raystra.events import ErrorInfo, Event, RunStatus

if TYPE_CHECKING:  # the lineage records live beside their SQL queries
    from raystra.storage._lineage import Direction, LineageGraph

__all__ = [
    "MaterializationRecord",
    "RunRecord",
    "RunStorage",
    "StepStats",
    "StoredEvent",
]


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One run as stored: what was asked for, and its status derived from events.

    ``selection`` lists the step keys the run targets (asset keys as ``a/b`` strings, or op node
    names for jobs). ``run_config`` never holds resource values, only user run config.
    """

    run_id: str
    status: RunStatus = RunStatus.QUEUED
    job_name: str | None = None
    selection: tuple[str, ...] = ()
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None
    root_run_id: str | None = None
    executor: str = "in_process"
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    # The run's W3C traceparent (``00-<trace id>-<span id>-01``) when tracing was on.
    trace_context: str | None = None
    # The driver process that owns the run, and its last sign of life (see `heartbeat`).
    driver_host: str | None = None
    driver_pid: int | None = None
    heartbeat_at: float | None = None

    @property
    def trace_id(self) -> str | None:
        """The run's trace id (32 hex digits), to look the run up in a tracing backend."""
        return self.trace_context.split("-")[1] if self.trace_context else None


@dataclass(frozen=True)
class StoredEvent:
    """An event with its storage id (monotonic within a storage)."""

    storage_id: int
    event: Event


@dataclass(frozen=True, kw_only=True)
class MaterializationRecord:
    """One committed materialization of an asset (partition), from the index."""

    storage_id: int
    asset_key: AssetKey
    partition: str | None
    run_id: str
    step_key: str
    timestamp: float
    metadata: Mapping[str, Any] = field(default_factory=dict)
    code_version: str | None = None


@dataclass(frozen=True, kw_only=True)
class StepStats:
    """A step's outcome within a run, derived from its events.

    ``status`` is one of ``IN_PROGRESS``, ``SUCCESS``, ``FAILURE``, ``SKIPPED``.
    """

    step_key: str
    status: str
    attempts: int = 0
    start_time: float | None = None
    end_time: float | None = None
    error: ErrorInfo | None = None
    skip_reason: str | None = None

    @property
    def duration_s(self) -> float | None:
        """Wall time from the first start to the end, when both are known."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


class RunStorage(abc.ABC):
    """Where runs and their events live. Implementations must be safe to share in a process."""

    @abc.abstractmethod
    def add_run(self, record: RunRecord) -> None:
        """Insert a new run (status QUEUED unless the record says otherwise)."""

    @abc.abstractmethod
    def heartbeat(self, run_id: str, at: float) -> None:
        """Record that the run's driver is alive at ``at`` (seconds since the epoch)."""

    @abc.abstractmethod
    def store_events(self, events: Sequence[Event]) -> None:
        """Append ``events`` in one transaction, updating run status and the asset index."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id, or a unique id prefix; raise `RunNotFoundError` otherwise."""

    @abc.abstractmethod
    def get_runs(
        self, *, limit: int = 50, statuses: Iterable[RunStatus] | None = None
    ) -> list[RunRecord]:
        """Most recent runs first."""

    @abc.abstractmethod
    def find_runs(
        self,
        *,
        step_keys: Sequence[str] | None = None,
        limit: int = 50,
        statuses: Iterable[RunStatus] | None = None,
        created_before: float | None = None,
    ) -> list[RunRecord]:
        """Most recent runs first, over every run stored: with ``step_keys``, only runs whose
        selection holds one of them (``orders`` also matches the partitioned
        ``orders[2024-03-01]``); with ``created_before``, only runs created before it (a
        paging cursor)."""

    @abc.abstractmethod
    def get_events(
        self,
        run_id: str,
        *,
        after_storage_id: int = 0,
        kinds: Iterable[str] | None = None,
        step_key: str | None = None,
    ) -> list[StoredEvent]:
        """A run's events in the order they were stored."""

    @abc.abstractmethod
    def get_step_stats(self, run_id: str) -> list[StepStats]:
        """One entry per step that has events in the run, in first-seen order."""

    @abc.abstractmethod
    def latest_materializations(
        self, asset_keys: Iterable[AssetKey] | None = None
    ) -> dict[AssetKey, MaterializationRecord]:
        """The newest materialization of each asset (all assets when ``asset_keys`` is None)."""

    @abc.abstractmethod
    def get_materializations(
        self, asset_key: AssetKey, *, limit: int = 100
    ) -> list[MaterializationRecord]:
        """An asset's materializations, newest first."""

    # Partitions and backfills (see `raystra.storage.sql` for the reference implementation).

    @abc.abstractmethod
    def partition_states(self, asset_key: AssetKey) -> dict[str | None, Any]:
        """Latest `PartitionState` of every recorded partition of ``asset_key``."""

    def partition_summaries(self, asset_keys: Sequence[AssetKey]) -> dict[AssetKey, Any]:
        """`PartitionSummary` (counts by status and code version, stale-by-upstream count) of
        each asset in ``asset_keys`` that has recorded partitions.

        This default asks `partition_states` and `stale_partitions` per asset; SQL storage
        answers with two grouped queries, for overviews of thousands of assets.

        Example:
            >>> storage.partition_summaries([AssetKey("orders")])  # doctest: +SKIP
            {AssetKey('orders'): PartitionSummary(by_state={('materialized', 'v1'): 3}, ...)}
        """
        from raystra.storage._partition_index import PartitionSummary

        found: dict[AssetKey, Any] = {}
        for key in asset_keys:
            states = self.partition_states(key)
            if not states:
                continue
            counts: dict[tuple[str, str | None], int] = {}
            for state in states.values():
                counts[(state.status, state.code_version)] = (
                    counts.get((state.status, state.code_version), 0) + 1
                )
            changed = [
                p
                for p in self.stale_partitions(key)
                if p in states and states[p].status == "materialized"
            ]
            found[key] = PartitionSummary(counts, len(changed))
        return found

    @abc.abstractmethod
    def partition_run_ids(self, asset_key: AssetKey) -> dict[str | None, str]:
        """Partition (None: unpartitioned) -> run id of its last good materialization."""

    @abc.abstractmethod
    def stale_partitions(self, asset_key: AssetKey) -> dict[str | None, list[str]]:
        """Partitions whose consumed upstream partitions were re-materialized since."""

    @abc.abstractmethod
    def lineage_graph(
        self,
        asset_key: AssetKey,
        *,
        partition: str | None,
        direction: Direction,
        depth: int,
        limit: int,
        offset: int = 0,
    ) -> LineageGraph:
        """Recorded lineage of one partition, or of every partition's latest materialization.

        Roots come in descending partition key order; `raystra.api.lineage` builds the tree.
        """

    @abc.abstractmethod
    def partition_keys_near(
        self, asset_key: AssetKey, partition: str, *, n: int = 3
    ) -> list[str | None]:
        """Materialized partitions of ``asset_key`` next to ``partition`` in key order.

        ``[None]``: the asset is unpartitioned; ``[]``: nothing of it was materialized.
        """

    @abc.abstractmethod
    def get_dynamic_partitions(self, name: str) -> list[str]:
        """Keys of the dynamic partitions definition ``name``."""

    @abc.abstractmethod
    def add_dynamic_partitions(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add keys to a dynamic partitions definition; return the new ones."""

    @abc.abstractmethod
    def remove_dynamic_partitions(self, name: str, keys: Sequence[str]) -> list[str]:
        """Remove keys from a dynamic partitions definition; return the removed ones."""

    @abc.abstractmethod
    def add_backfill(self, record: Any) -> None:
        """Record a new `BackfillRecord`."""

    @abc.abstractmethod
    def update_backfill(
        self, backfill_id: str, *, status: str | None = None, add_run_id: str | None = None
    ) -> None:
        """Change a backfill's status and/or append a run to it."""

    @abc.abstractmethod
    def get_backfill(self, backfill_id: str) -> Any:
        """The `BackfillRecord` with this id (or unique prefix)."""

    @abc.abstractmethod
    def list_backfills(self, *, limit: int = 20) -> list[Any]:
        """Most recent backfills first."""

    @abc.abstractmethod
    def set_backfill_targets(
        self,
        backfill_id: str,
        statuses: Iterable[tuple[str, str | None, str]],
        *,
        run_id: str | None = None,
    ) -> None:
        """Set (asset key, partition, status) of backfill targets."""

    @abc.abstractmethod
    def backfill_target_statuses(self, backfill_id: str) -> dict[tuple[str, str | None], str]:
        """(asset key, partition) -> status of every target of a backfill."""

    # Automation: schedule/sensor state, ticks, run keys (see `raystra.storage.sql`).

    @abc.abstractmethod
    def get_instigator_states(self, names: Sequence[str] | None = None) -> dict[str, Any]:
        """`InstigatorState` of each schedule/sensor in ``names`` (all when None) that has one."""

    @abc.abstractmethod
    def save_instigator_state(
        self,
        name: str,
        *,
        kind: str,
        status: Any = ...,
        cursor: Any = ...,
        last_tick_at: Any = ...,
    ) -> None:
        """Set the given fields of a schedule's/sensor's state (others are left as they are)."""

    @abc.abstractmethod
    def add_tick(self, tick: Any) -> int:
        """Store a `TickRecord`; its id."""

    @abc.abstractmethod
    def get_ticks(
        self, name: str, *, limit: int = 20, statuses: Sequence[str] | None = None
    ) -> list[Any]:
        """A schedule's/sensor's `TickRecord` objects, newest first."""

    @abc.abstractmethod
    def reserve_run_key(
        self, name: str, run_key: str, *, run_id: str, request: Mapping[str, Any]
    ) -> bool:
        """Claim ``run_key`` for instigator ``name``; False if it was ever claimed before.

        Must be atomic across processes: of two daemons claiming one key, one gets False.
        """

    @abc.abstractmethod
    def get_run_key(self, name: str, run_key: str) -> Any:
        """The `RunKeyRecord` of ``run_key``, or None."""

    @abc.abstractmethod
    def pending_launches(self, *, limit: int = 100) -> list[Any]:
        """Reserved run keys whose run was never recorded and whose launch did not fail."""

    @abc.abstractmethod
    def record_launch_error(self, name: str, run_key: str, error: str) -> None:
        """Mark a reserved launch as failed before its run was recorded."""

    @abc.abstractmethod
    def save_automation_evaluations(self, rows: Sequence[Any]) -> None:
        """Replace the latest `AutomationEvaluation` of each asset in ``rows``."""

    @abc.abstractmethod
    def get_automation_evaluations(self) -> dict[str, Any]:
        """The latest `AutomationEvaluation` of each asset, by asset key string."""

    # Asset checks: rows indexed from stored `AssetCheckEvaluated` events.

    @abc.abstractmethod
    def get_check_results(
        self,
        asset_key: AssetKey,
        *,
        check_name: str | None = None,
        partition: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
    ) -> list[Any]:
        """An asset's `AssetCheckRecord` history, newest first (filtered when asked)."""

    @abc.abstractmethod
    def latest_check_results(
        self, asset_keys: Iterable[AssetKey] | None = None
    ) -> dict[AssetKey, list[Any]]:
        """Per asset, the newest `AssetCheckRecord` of each (check, partition)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most storages hold a pool
        """Release connections."""
