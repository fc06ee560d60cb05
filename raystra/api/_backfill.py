"""Backfills: many partitions across a graph as one run (one Ray DAG), recorded and resumable."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from raystra.api._monitor import reconcile_backfill_targets
from raystra.api._partitions import (
    PartitionRequest,
    asset_partition_status,
    check_partitioned_selection,
    resolve_targets,
)
from raystra.api._storage import reading_storage
from raystra.definitions import AssetKey, Definitions
from raystra.errors import NothingToRunError, RaystraError
from raystra.events import (
    AssetMaterialized,
    Event,
    PartitionFailed,
    RunStatus,
    StepFailed,
    StepSkipped,
)
from raystra.observability import (
    emit_backfill_span,
    record_backfill_progress,
    tracing_enabled,
)
from raystra.planning import ExecutionPlan, build_asset_plan, build_partitioned_plan
from raystra.storage import RunStorage
from raystra.storage._backfill_records import BackfillRecord, resumable

__all__ = ["BackfillResult", "backfill", "cancel_backfill", "plan_assets", "resume_backfill"]

BACKFILL_TAG = "raystra/backfill"


def plan_assets(
    defs: Definitions,
    keys: Iterable[AssetKey],
    request: PartitionRequest | None,
    storage: RunStorage,
    *,
    only: str | None = None,
) -> ExecutionPlan:
    """Plan ``keys`` for ``request``; ``only`` = "missing" or "stale" keeps just those.

    "missing" also keeps failed partitions (never successfully materialized since).
    """
    selected = list(keys)
    partitioned = [k for k in selected if defs.partitions_def_for(k) is not None]
    if request is None and partitioned and only is not None:
        request = PartitionRequest(all=True)
    if request is None:
        check_partitioned_selection(defs, partitioned)
        targets: dict[AssetKey, list[str]] = {}
    else:
        targets = resolve_targets(defs, selected, request, storage=storage)
    if only is not None:
        wanted = ("missing", "failed") if only == "missing" else ("stale",)
        kept: list[AssetKey] = []
        for key in selected:
            status = asset_partition_status(defs, key, storage)
            chosen = {p for state in wanted for p in status.keys.get(state, [])}
            if key in targets:
                targets[key] = [p for p in targets[key] if p in chosen]
                if targets[key]:
                    kept.append(key)
            elif None in chosen:
                kept.append(key)
        selected = kept
    if not partitioned and not _reads_partitions(defs, selected):
        return build_asset_plan(defs, selected)
    return build_partitioned_plan(defs, selected, targets, dynamic_partitions=storage)


def _reads_partitions(defs: Definitions, keys: Iterable[AssetKey]) -> bool:
    """True when a selected asset reads a partitioned asset (its partition mapping applies)."""
    for key in keys:
        assets_def = defs.get_assets_def(key)
        for node_input in assets_def.inputs:
            upstream = node_input.asset_key
            if upstream is not None and defs.partitions_def_for(upstream) is not None:
                return True
    return False


def plan_targets(plan: ExecutionPlan) -> list[tuple[str, str | None]]:
    """Every (asset key, partition) a plan materializes."""
    return [
        (key.to_user_string(), partition)
        for step in plan.steps
        for key in step.asset_keys
        for partition in (step.partition_keys or (None,))
    ]


@dataclass(frozen=True)
class BackfillResult:
    """A finished (or stopped) backfill: its record and the run that did the work."""

    backfill_id: str
    record: BackfillRecord
    run: Any  # RunResult; Any avoids an import cycle with _launch

    @property
    def success(self) -> bool:
        """True when every target was materialized."""
        return self.record.status == "COMPLETED"


def backfill(
    defs: Definitions,
    selection: Any = None,
    *,
    partitions: PartitionRequest | None = None,
    only: str | None = None,
    storage: RunStorage | None = None,
    backfill_id: str | None = None,
    **run_options: Any,
) -> BackfillResult:
    """Materialize many partitions of a selection as one run (one Ray DAG), recorded as a backfill.

    Args:
        defs: The definitions.
        selection: Assets to backfill (selection string, `AssetSelection`, keys; None = all).
        partitions: Which partitions (`PartitionRequest`); None with ``only`` means all.
        only: ``"missing"`` (never materialized, or failed) or ``"stale"``.
        storage: Run storage; default the configured one.
        run_options: Passed to the run: executor, max_concurrent, ray_address, on_event, tags.

    Example:
        >>> from raystra.definitions._partitions import PartitionKeyRange
        >>> backfill(defs, "*", partitions=PartitionRequest(  # doctest: +SKIP
        ...     key_range=PartitionKeyRange("2024-01-01", "2024-12-31")))
    """
    from raystra.api._launch import resolve_selection

    with reading_storage(storage) as store:
        keys = resolve_selection(defs, selection)
        plan = plan_assets(defs, keys, partitions, store, only=only)
        if not plan.steps:
            raise NothingToRunError(
                "Nothing to backfill: every selected partition is already "
                f"{'materialized' if only == 'missing' else 'fresh'}."
            )
        record = BackfillRecord(
            backfill_id=backfill_id or uuid.uuid4().hex[:12],
            status="REQUESTED",
            selection=tuple(sorted(k.to_user_string() for k in keys)),
            partitions={**(partitions.describe() if partitions else {"all": True}), "only": only},
        )
        store.add_backfill(record)
        store.set_backfill_targets(
            record.backfill_id, [(a, p, "requested") for a, p in plan_targets(plan)]
        )
        return _run_backfill(defs, plan, record.backfill_id, store, run_options)


def resume_backfill(
    defs: Definitions, backfill_id: str, *, storage: RunStorage | None = None, **run_options: Any
) -> BackfillResult:
    """Run again only the targets of a backfill that failed, were skipped, canceled or missed."""
    with reading_storage(storage) as store:
        record = store.get_backfill(backfill_id)
        # A run whose driver died committed targets it never got to settle: not done again.
        reconcile_backfill_targets(store, record.backfill_id)
        todo = resumable(store.backfill_target_statuses(record.backfill_id))
        if not todo:
            raise RaystraError(
                f"Backfill {record.backfill_id} has nothing left to do: every target is "
                "materialized."
            )
        targets: dict[AssetKey, list[str]] = {}
        keys: set[AssetKey] = set()
        for asset, partition in todo:
            key = AssetKey.from_user_string(asset)
            keys.add(key)
            if partition is not None:
                targets.setdefault(key, []).append(partition)
        for key, partitions in targets.items():
            definition = defs.partitions_def_for(key)
            assert definition is not None
            targets[key] = sorted(partitions, key=definition.key_index)
        plan = build_partitioned_plan(defs, keys, targets, dynamic_partitions=store)
        return _run_backfill(defs, plan, record.backfill_id, store, run_options)


def cancel_backfill(backfill_id: str, *, storage: RunStorage | None = None) -> BackfillRecord:
    """Ask a running backfill to stop; its driver cancels in-flight tasks within a second."""
    with reading_storage(storage) as store:
        record: BackfillRecord = store.get_backfill(backfill_id)
        if record.status in ("COMPLETED", "FAILED", "CANCELED"):
            return record
        store.update_backfill(record.backfill_id, status="CANCELING")
        updated: BackfillRecord = store.get_backfill(record.backfill_id)
        return updated


def _run_backfill(
    defs: Definitions,
    plan: ExecutionPlan,
    backfill_id: str,
    store: RunStorage,
    run_options: Mapping[str, Any],
) -> BackfillResult:
    from raystra.api._launch import run_plan

    store.update_backfill(backfill_id, status="RUNNING")
    # A function: nothing is read from storage while metrics are off.
    record_backfill_progress(backfill_id, lambda: store.get_backfill(backfill_id).counts)
    started_at = time.time()
    tags = {**run_options.get("tags", {}), BACKFILL_TAG: backfill_id}
    options = {k: v for k, v in run_options.items() if k != "tags"}

    def should_cancel() -> bool:
        return bool(store.get_backfill(backfill_id).status == "CANCELING")

    try:
        result = run_plan(
            defs,
            plan,
            storage=store,
            tags=tags,
            raise_on_error=False,
            should_cancel=should_cancel,
            on_run_id=lambda run_id: store.update_backfill(backfill_id, add_run_id=run_id),
            **options,
        )
    except BaseException:
        store.update_backfill(backfill_id, status="CANCELED")
        raise
    statuses = target_statuses(plan, result.events, result.status)
    store.set_backfill_targets(backfill_id, statuses, run_id=result.run_id)
    remaining = resumable(store.backfill_target_statuses(backfill_id))
    if result.status is RunStatus.CANCELED:
        final = "CANCELED"
    else:
        final = "COMPLETED" if not remaining else "FAILED"
    store.update_backfill(backfill_id, status=final)
    record = store.get_backfill(backfill_id)
    record_backfill_progress(backfill_id, record.counts)
    _trace_backfill(store, record, started_at)
    return BackfillResult(backfill_id, record, result)


def _trace_backfill(store: RunStorage, record: BackfillRecord, started_at: float) -> None:
    """A ``raystra.backfill`` span linking every run of the backfill, when tracing is on."""
    if not tracing_enabled(os.environ):
        return
    traceparents = [
        context
        for run_id in record.run_ids
        if (context := store.get_run(run_id).trace_context) is not None
    ]
    emit_backfill_span(
        os.environ,
        backfill_id=record.backfill_id,
        started_at=started_at,
        ended_at=time.time(),
        status=record.status,
        run_traceparents=traceparents,
        attributes={
            "raystra.backfill.status": record.status,
            "raystra.backfill.targets": record.total,
            **{f"raystra.backfill.targets.{k}": v for k, v in record.counts.items()},
        },
    )


def target_statuses(
    plan: ExecutionPlan, events: Iterable[Event], run_status: RunStatus
) -> list[tuple[str, str | None, str]]:
    """Each planned (asset, partition) with what happened to it in the run."""
    done: dict[tuple[str, str | None], str] = {}
    step_state: dict[str, str] = {}
    for event in events:
        if isinstance(event, AssetMaterialized):
            done[(event.asset_key.to_user_string(), event.partition)] = "materialized"
        elif isinstance(event, PartitionFailed):
            done[(event.asset_key.to_user_string(), event.partition)] = "failed"
        elif isinstance(event, StepFailed):
            step_state[event.step_key] = "failed"
        elif isinstance(event, StepSkipped):
            step_state[event.step_key] = "skipped"
    not_reached = "canceled" if run_status is RunStatus.CANCELED else "missing"
    statuses = []
    for step in plan.steps:
        for key in step.asset_keys:
            for partition in step.partition_keys or (None,):
                target = (key.to_user_string(), partition)
                state = done.get(target) or step_state.get(step.key, not_reached)
                statuses.append((target[0], partition, state))
    return statuses
