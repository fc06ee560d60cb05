"""Ready-made sensor kinds: asset sensors, run status sensors and freshness sensors.

Each is a `SensorDefinition` whose evaluation function reads run storage and keeps its place
in the cursor, then calls the user's function for what it found.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from raystra.automation._freshness import asset_freshness
from raystra.automation._requests import DefaultSensorStatus, RunRequest, SensorResult, SkipReason
from raystra.automation._sensor import SensorDefinition, SensorEvaluationContext
from raystra.definitions import AssetKey, CoercibleToAssetKey
from raystra.definitions._freshness import FreshnessPolicy
from raystra.errors import InvalidDefinitionError
from raystra.events import RunStatus
from raystra.planning import AssetSelection
from raystra.storage import MaterializationRecord, RunRecord, StepStats

__all__ = [
    "FreshnessPolicySensorContext",
    "RunStatusSensorContext",
    "asset_sensor",
    "freshness_policy_sensor",
    "run_failure_sensor",
    "run_status_sensor",
]

_RUNS_PER_TICK = 200


def _collect(returned: Any, requests: list[Any]) -> None:
    if returned is None:
        return
    if isinstance(returned, RunRequest | SkipReason):
        requests.append(returned)
    elif isinstance(returned, Iterable) and not isinstance(returned, str):
        requests.extend(returned)
    else:
        requests.append(returned)


def asset_sensor(
    *,
    asset_key: CoercibleToAssetKey,
    target: Any = None,
    name: str | None = None,
    minimum_interval_seconds: float = 30,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> Callable[[Callable[..., Any]], SensorDefinition]:
    """A sensor that calls ``fn(context, materialization)`` when ``asset_key`` is materialized.

    Called once per tick with the newest materialization since the last tick (a
    `raystra.storage.MaterializationRecord`: run id, partition, time, metadata); the cursor
    is that materialization's storage id.

    Example:
        >>> @asset_sensor(asset_key="orders", target="order_report")
        ... def orders_updated(context, materialization):
        ...     return RunRequest(run_key=str(materialization.storage_id))
        >>> orders_updated.sensor_type
        'asset'
    """
    key = AssetKey.from_coercible(asset_key)

    def decorate(fn: Callable[..., Any]) -> SensorDefinition:
        def evaluate(context: SensorEvaluationContext) -> SensorResult:
            after = int(context.cursor or 0)
            newest = context.storage.get_materializations(key, limit=1)
            if not newest or newest[0].storage_id <= after:
                return SensorResult(skip_reason=f"no new materialization of {key.to_user_string()}")
            record: MaterializationRecord = newest[0]
            found: list[Any] = []
            _collect(fn(context, record), found)
            return SensorResult(
                run_requests=[r for r in found if isinstance(r, RunRequest)],
                skip_reason=next((r for r in found if isinstance(r, SkipReason)), None),
                cursor=str(record.storage_id),
            )

        sensor_def = SensorDefinition(
            name=name or fn.__name__,
            evaluation_fn=evaluate,
            target=target,
            minimum_interval_seconds=minimum_interval_seconds,
            default_status=default_status,
            description=fn.__doc__ or f"Runs when {key.to_user_string()} is materialized.",
            sensor_type="asset",
        )
        sensor_def.monitored_asset_key = key  # type: ignore[attr-defined]
        return sensor_def

    return decorate


@dataclass(frozen=True, kw_only=True)
class RunStatusSensorContext:
    """What a run status sensor's function gets: the run that reached the status.

    Example:
        >>> ctx = RunStatusSensorContext(sensor_name="s", run=RunRecord(run_id="r1"),
        ...                              run_status=RunStatus.FAILURE)
        >>> ctx.run.run_id
        'r1'
    """

    sensor_name: str
    run: RunRecord
    run_status: RunStatus
    storage: Any = None

    def failed_steps(self) -> list[StepStats]:
        """The run's failed steps, with their errors (empty unless the storage is known)."""
        if self.storage is None:
            return []
        steps: list[StepStats] = self.storage.get_step_stats(self.run.run_id)
        return [s for s in steps if s.status == "FAILURE"]


def run_status_sensor(
    *,
    run_status: RunStatus | str,
    name: str | None = None,
    target: Any = None,
    minimum_interval_seconds: float = 30,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> Callable[[Callable[[RunStatusSensorContext], Any]], SensorDefinition]:
    """A sensor that calls ``fn(context)`` for every run that ends with ``run_status``.

    Only runs ending after the sensor's first tick are reported (history is not replayed);
    the cursor keeps the end time reached, so each run is reported once. Return None (after
    sending an alert), or `RunRequest` objects to launch follow-up runs of ``target``.

    Example:
        >>> @run_status_sensor(run_status="SUCCESS")
        ... def on_success(context):
        ...     print(f"run {context.run.run_id} succeeded")
        >>> on_success.sensor_type
        'run_status'
    """
    try:
        status = RunStatus(run_status.upper() if isinstance(run_status, str) else run_status)
    except ValueError:
        raise InvalidDefinitionError(
            f"run_status_sensor(run_status={run_status!r}): use one of "
            f"{', '.join(s.value for s in RunStatus)}."
        ) from None

    def decorate(fn: Callable[[RunStatusSensorContext], Any]) -> SensorDefinition:
        def evaluate(context: SensorEvaluationContext) -> SensorResult:
            if context.cursor is None:  # first tick: start from now, do not replay history
                cursor = {"after": context.now.timestamp(), "seen": []}
                return SensorResult(
                    skip_reason="started; reporting runs that end from now on",
                    cursor=json.dumps(cursor),
                )
            state = json.loads(context.cursor)
            after, seen = float(state["after"]), set(state["seen"])
            runs = [
                r
                for r in context.storage.get_runs(limit=_RUNS_PER_TICK, statuses=[status])
                if r.ended_at is not None
                and (r.ended_at > after or (r.ended_at == after and r.run_id not in seen))
            ]
            runs.sort(key=lambda r: (r.ended_at, r.run_id))
            found: list[Any] = []
            for run in runs:
                _collect(
                    fn(
                        RunStatusSensorContext(
                            sensor_name=context.sensor_name,
                            run=run,
                            run_status=status,
                            storage=context.storage,
                        )
                    ),
                    found,
                )
            if runs:
                after = max(after, *(r.ended_at or 0.0 for r in runs))
                seen = {r.run_id for r in runs if r.ended_at == after} | (
                    seen if after == float(state["after"]) else set()
                )
            requests = [r for r in found if isinstance(r, RunRequest)]
            skip = None if requests else f"{len(runs)} run(s) reported, no run requested"
            return SensorResult(
                run_requests=requests,
                skip_reason=skip,
                cursor=json.dumps({"after": after, "seen": sorted(seen)}),
            )

        return SensorDefinition(
            name=name or fn.__name__,
            evaluation_fn=evaluate,
            target=target,
            minimum_interval_seconds=minimum_interval_seconds,
            default_status=default_status,
            description=fn.__doc__ or f"Reports runs that end {status.value}.",
            sensor_type="run_status",
        )

    return decorate


def run_failure_sensor(
    fn: Callable[[RunStatusSensorContext], Any] | None = None,
    /,
    *,
    name: str | None = None,
    minimum_interval_seconds: float = 30,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> Any:
    """`run_status_sensor` for failed runs: ``fn(context)`` per run that ends FAILURE.

    Example:
        >>> @run_failure_sensor
        ... def page_on_failure(context):
        ...     errors = [s.error.message for s in context.failed_steps() if s.error]
        >>> page_on_failure.name
        'page_on_failure'
    """
    decorate = run_status_sensor(
        run_status=RunStatus.FAILURE,
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
    )
    return decorate(fn) if fn is not None else decorate


@dataclass(frozen=True, kw_only=True)
class FreshnessPolicySensorContext:
    """What a freshness sensor's function gets for one asset at one evaluation.

    Compare ``minutes_overdue`` with ``previous_minutes_overdue`` to alert only when an asset
    becomes overdue (previous None, now a number) or fresh again (the other way round).

    Example:
        >>> from datetime import UTC, datetime
        >>> ctx = FreshnessPolicySensorContext(sensor_name="s", asset_key=AssetKey("a"),
        ...     freshness_policy=FreshnessPolicy(maximum_lag_minutes=5),
        ...     minutes_overdue=3.0, previous_minutes_overdue=None,
        ...     now=datetime(2024, 1, 1, tzinfo=UTC))
        >>> ctx.became_overdue
        True
    """

    sensor_name: str
    asset_key: AssetKey
    freshness_policy: FreshnessPolicy
    minutes_overdue: float | None
    previous_minutes_overdue: float | None
    now: datetime

    @property
    def became_overdue(self) -> bool:
        """Overdue now, fresh (or unknown) at the previous evaluation."""
        return self.minutes_overdue is not None and self.previous_minutes_overdue is None

    @property
    def became_fresh(self) -> bool:
        """Fresh now, overdue at the previous evaluation."""
        return self.minutes_overdue is None and self.previous_minutes_overdue is not None


def freshness_policy_sensor(
    *,
    asset_selection: Any = "*",
    name: str | None = None,
    minimum_interval_seconds: float = 30,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> Callable[[Callable[[FreshnessPolicySensorContext], Any]], SensorDefinition]:
    """A sensor calling ``fn(context)`` for each selected asset with a freshness policy.

    Called on every evaluation for every such asset (Dagster's semantics); the context says
    how overdue the asset is now and was at the previous evaluation, kept in the cursor.

    Example:
        >>> @freshness_policy_sensor(asset_selection="group:sales")
        ... def late_data(context):
        ...     if context.became_overdue:
        ...         print(f"{context.asset_key.to_user_string()} is late")
        >>> late_data.sensor_type
        'freshness'
    """
    selection = AssetSelection.from_coercible(asset_selection)

    def decorate(fn: Callable[[FreshnessPolicySensorContext], Any]) -> SensorDefinition:
        def evaluate(context: SensorEvaluationContext) -> SensorResult:
            assert context.definitions is not None  # the daemon always passes them
            previous: dict[str, float | None] = json.loads(context.cursor or "{}")
            keys = selection.resolve(context.definitions.asset_graph)
            states = asset_freshness(
                context.definitions, context.storage, now=context.now, keys=keys
            )
            current: dict[str, float | None] = {}
            for state in states:
                label = state.asset_key.to_user_string()
                current[label] = state.minutes_overdue
                fn(
                    FreshnessPolicySensorContext(
                        sensor_name=context.sensor_name,
                        asset_key=state.asset_key,
                        freshness_policy=state.policy,
                        minutes_overdue=state.minutes_overdue,
                        previous_minutes_overdue=previous.get(label),
                        now=context.now,
                    )
                )
            overdue = sorted(k for k, v in current.items() if v is not None)
            return SensorResult(
                skip_reason=f"overdue: {', '.join(overdue)}" if overdue else "all fresh",
                cursor=json.dumps(current, sort_keys=True),
            )

        return SensorDefinition(
            name=name or fn.__name__,
            evaluation_fn=evaluate,
            minimum_interval_seconds=minimum_interval_seconds,
            default_status=default_status,
            description=fn.__doc__ or "Reports assets overdue under their freshness policy.",
            sensor_type="freshness",
        )

    return decorate
