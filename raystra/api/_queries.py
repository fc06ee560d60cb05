"""Read-only queries over runs, steps, events and assets, for the CLI and the web UI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from raystra.api._storage import reading_storage
from raystra.definitions import (
    AssetKey,
    Definitions,
)
from raystra.errors import RaystraError
from raystra.events import (
    Event,
    RunStatus,
)
from raystra.planning import (
    AssetSelection,
)
from raystra.storage import (
    MaterializationRecord,
    RunRecord,
    RunStorage,
    StepStats,
)


def list_runs(
    *,
    limit: int = 20,
    status: RunStatus | str | None = None,
    storage: RunStorage | None = None,
) -> list[RunRecord]:
    """The most recent runs first, optionally only those with one status.

    Args:
        limit: How many runs to return at most.
        status: A `RunStatus` or its name (case-insensitive), e.g. ``"failure"``.
        storage: Run storage; defaults to `raystra.storage.open_storage()`.

    Example:
        >>> [run.run_id for run in list_runs(limit=5, status="FAILURE")]  # doctest: +SKIP
        ['3f2a6c1e-...']
    """
    statuses = None if status is None else [_run_status(status)]
    with reading_storage(storage) as store:
        return store.get_runs(limit=limit, statuses=statuses)


def _run_status(value: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(str(value).upper())
    except ValueError:
        names = ", ".join(s.value for s in RunStatus)
        raise RaystraError(f"Unknown run status {value!r}; use one of {names}.") from None


def get_run(run_id: str, *, storage: RunStorage | None = None) -> RunRecord:
    """The run with this id or unique id prefix; `RunNotFoundError` otherwise.

    Example:
        >>> get_run("3f2a").status  # doctest: +SKIP
        <RunStatus.FAILURE: 'FAILURE'>
    """
    with reading_storage(storage) as store:
        return store.get_run(run_id)


def run_steps(run_id: str, *, storage: RunStorage | None = None) -> list[StepStats]:
    """Each step of a run (id or prefix) that has events, with status, attempts and error.

    Example:
        >>> [(s.step_key, s.status) for s in run_steps("3f2a")]  # doctest: +SKIP
        [('extract', 'SUCCESS'), ('transform', 'FAILURE'), ('load', 'SKIPPED')]
    """
    with reading_storage(storage) as store:
        return store.get_step_stats(store.get_run(run_id).run_id)


def run_events(
    run_id: str,
    *,
    step_key: str | None = None,
    kinds: Iterable[str] | None = None,
    storage: RunStorage | None = None,
) -> list[Event]:
    """A run's events (id or prefix) in order, optionally one step's and only some kinds.

    Args:
        run_id: The run id or a unique prefix of it.
        step_key: Only events of this step.
        kinds: Only events of these kinds, e.g. ``["LogMessage"]``.
        storage: Run storage; defaults to `raystra.storage.open_storage()`.

    Example:
        >>> logs = run_events("3f2a", kinds=["LogMessage"])  # doctest: +SKIP
    """
    with reading_storage(storage) as store:
        full_id = store.get_run(run_id).run_id
        stored = store.get_events(
            full_id, step_key=step_key, kinds=None if kinds is None else list(kinds)
        )
        return [record.event for record in stored]


@dataclass(frozen=True)
class AssetStatus:
    """An asset as the CLI lists it: group, upstream keys and its newest materialization."""

    key: AssetKey
    group: str
    upstream: tuple[AssetKey, ...]
    is_external: bool
    last_materialization: MaterializationRecord | None


def asset_overview(
    definitions: Definitions,
    selection: Any = None,
    *,
    storage: RunStorage | None = None,
) -> list[AssetStatus]:
    """Every selected asset (external ones included) with its last materialization.

    Assets come in topological order. ``selection`` is anything `AssetSelection` accepts, or
    None for all assets.

    Example:
        >>> [(a.key.to_user_string(), a.last_materialization) for a in asset_overview(defs)]
        ... # doctest: +SKIP
        [('orders', MaterializationRecord(...)), ('revenue', None)]
    """
    graph = definitions.asset_graph
    keys = (
        graph.keys if selection is None else AssetSelection.from_coercible(selection).resolve(graph)
    )
    ordered = [key for key in definitions.topological_keys if key in keys]
    with reading_storage(storage) as store:
        latest = store.latest_materializations(ordered)
    return [
        AssetStatus(
            key=key,
            group=graph.group_of(key),
            upstream=tuple(sorted(graph.parents.get(key, ()))),
            is_external=key in graph.external,
            last_materialization=latest.get(key),
        )
        for key in ordered
    ]
