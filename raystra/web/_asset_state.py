"""Each asset's state for the graph: fresh, stale, missing, failed or running.

Computed for thousands of assets from a handful of queries: the newest materialization of
every asset, `RunStorage.partition_summaries` (partition counts by status and code version),
and the steps of the runs in progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from raystra.definitions import AssetKey, Definitions
from raystra.definitions._partitions import PartitionKeyRange, PartitionsDefinition
from raystra.events import RunStatus
from raystra.storage import RunStorage
from raystra.web._serialize import step_node, step_partition

__all__ = ["AssetState", "asset_states", "running_assets", "running_partitions"]

_FINISHED_STEPS = frozenset({"SUCCESS", "FAILURE", "SKIPPED"})
_ACTIVE_RUNS_LOOKED_AT = 200


@dataclass(frozen=True, kw_only=True)
class AssetState:
    """One asset's state and, for partitioned assets, its partition counts."""

    state: str
    total: int
    materialized: int
    failed: int
    stale: int

    def counts(self) -> dict[str, int]:
        """Partition counts as the API sends them."""
        return {
            "total": self.total,
            "materialized": self.materialized,
            "failed": self.failed,
            "stale": self.stale,
            "missing": max(self.total - self.materialized - self.failed, 0),
        }


def running_assets(definitions: Definitions, storage: RunStorage) -> dict[AssetKey, str]:
    """Assets a run in progress has not finished yet -> that run's id."""
    running: dict[AssetKey, str] = {}
    active = storage.get_runs(
        limit=_ACTIVE_RUNS_LOOKED_AT, statuses=[RunStatus.QUEUED, RunStatus.STARTED]
    )
    for run in active:
        if run.job_name is not None:
            continue
        finished = {
            stats.step_key
            for stats in storage.get_step_stats(run.run_id)
            if stats.status in _FINISHED_STEPS
        }
        for step_key in run.selection:
            if step_key in finished:
                continue
            for key in _keys_of_step(definitions, step_key):
                running.setdefault(key, run.run_id)
    return running


def running_partitions(definitions: Definitions, storage: RunStorage, key: AssetKey) -> set[str]:
    """Partitions of ``key`` that a run in progress is still to finish."""
    definition = definitions.partitions_def_for(key)
    if definition is None:
        return set()
    found: set[str] = set()
    active = storage.get_runs(
        limit=_ACTIVE_RUNS_LOOKED_AT, statuses=[RunStatus.QUEUED, RunStatus.STARTED]
    )
    for run in active:
        mine = [s for s in run.selection if key in _keys_of_step(definitions, s)]
        if not mine:
            continue
        finished = {
            stats.step_key
            for stats in storage.get_step_stats(run.run_id)
            if stats.status in _FINISHED_STEPS
        }
        for step_key in mine:
            partition = step_partition(step_key)
            if step_key in finished or partition is None:
                continue
            first, dots, last = partition.partition("...")
            if dots:
                found.update(
                    definition.get_partition_keys_in_range(
                        PartitionKeyRange(first, last), dynamic_partitions=storage
                    )
                )
            else:
                found.add(partition)
    return found


def _keys_of_step(definitions: Definitions, step_key: str) -> Iterable[AssetKey]:
    try:
        return definitions.get_node_by_step_key(step_node(step_key)).keys
    except KeyError:  # a step of definitions that changed since
        return ()


def asset_states(
    definitions: Definitions,
    storage: RunStorage,
    keys: Iterable[AssetKey],
    *,
    running: Mapping[AssetKey, str] | None = None,
) -> dict[AssetKey, AssetState]:
    """The state of each asset in ``keys`` (external assets count as fresh).

    Precedence: running, then failed (a partition's last attempt failed), missing (never
    materialized), stale (code version changed, or an upstream partition it read was
    materialized again since), missing (some partitions never materialized), fresh.
    """
    wanted = list(keys)
    summaries = storage.partition_summaries(wanted)
    running = running if running is not None else running_assets(definitions, storage)
    totals: dict[PartitionsDefinition, int] = {}
    now = datetime.now(UTC)
    graph = definitions.asset_graph
    states: dict[AssetKey, AssetState] = {}
    for key in wanted:
        definition = definitions.partitions_def_for(key)
        if definition is None:
            total = 1
        else:
            if definition not in totals:
                totals[definition] = definition.count(now, storage)
            total = totals[definition]
        summary: Any = summaries.get(key)
        by_state: Mapping[tuple[str, str | None], int] = summary.by_state if summary else {}
        code_version = definitions.code_version_for(key)
        materialized = sum(n for (status, _), n in by_state.items() if status == "materialized")
        failed = sum(n for (status, _), n in by_state.items() if status == "failed")
        version_stale = sum(
            n
            for (status, version), n in by_state.items()
            if status == "materialized" and code_version is not None and version != code_version
        )
        stale = max(version_stale, summary.stale_upstream if summary else 0)
        if key in graph.external:
            state = "fresh"
        elif key in running:
            state = "running"
        elif failed:
            state = "failed"
        elif not materialized:
            state = "missing"
        elif stale:
            state = "stale"
        elif materialized < total:
            state = "missing"
        else:
            state = "fresh"
        states[key] = AssetState(
            state=state, total=total, materialized=materialized, failed=failed, stale=stale
        )
    return states
