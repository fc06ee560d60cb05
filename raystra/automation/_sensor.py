"""Sensors: `@sensor`, `SensorDefinition` and the context a sensor function gets."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from raystra.automation._requests import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    SensorResult,
    SkipReason,
)
from raystra.automation._target import AutomationTarget
from raystra.definitions import Definitions
from raystra.definitions._keys import validate_name
from raystra.errors import InvalidDefinitionError

__all__ = ["SensorDefinition", "SensorEvaluationContext", "sensor"]


@dataclass(kw_only=True)
class SensorEvaluationContext:
    """What a sensor function gets: its cursor, the time, and read access to run storage.

    ``cursor`` is what the previous tick left (None on the first); set a new one with
    `update_cursor` or by returning `SensorResult(cursor=...)`. It is stored with the tick,
    so it survives daemon restarts.

    Example:
        >>> from datetime import UTC, datetime
        >>> ctx = SensorEvaluationContext(sensor_name="s", cursor="5",
        ...                               now=datetime(2024, 1, 1, tzinfo=UTC))
        >>> ctx.update_cursor("6"); ctx.cursor
        '6'
    """

    sensor_name: str
    cursor: str | None = None
    now: datetime
    last_tick_at: datetime | None = None
    storage: Any = None  # the RunStorage, when the daemon evaluates the tick
    definitions: Definitions | None = None
    _cursor_updated: bool = field(default=False, repr=False)

    def update_cursor(self, cursor: str | None) -> None:
        """Set the cursor the next tick will see."""
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidDefinitionError(
                f"Sensor {self.sensor_name!r}: update_cursor takes a string (serialize other "
                f"values, e.g. with json.dumps), got {type(cursor).__name__}."
            )
        self.cursor = cursor
        self._cursor_updated = True


class SensorDefinition:
    """Evaluate ``evaluation_fn`` every ``minimum_interval_seconds`` and launch what it asks.

    The function takes a `SensorEvaluationContext` and returns (or yields) `RunRequest`
    objects, a `SkipReason`, a `SensorResult`, or None. A request's ``run_key`` is
    idempotent: the same key from the same sensor never launches twice. A function that
    raises fails only its tick (the error is recorded); the daemon keeps going.

    Example:
        >>> def check(context):
        ...     return SkipReason("nothing new")
        >>> s = SensorDefinition(name="watch", evaluation_fn=check, target="orders")
        >>> s.minimum_interval_seconds
        30
    """

    kind = "sensor"

    def __init__(
        self,
        *,
        name: str,
        evaluation_fn: Callable[[SensorEvaluationContext], Any],
        target: Any = None,
        minimum_interval_seconds: float = 30,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        sensor_type: str = "standard",
    ) -> None:
        self.name = validate_name(name, what="Sensor name")
        where = f"Sensor {self.name!r}"
        if not callable(evaluation_fn):
            raise InvalidDefinitionError(f"{where}: evaluation_fn must be a function.")
        self.evaluation_fn = evaluation_fn
        self.target = None if target is None else AutomationTarget.coerce(target, where=where)
        interval = minimum_interval_seconds
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise InvalidDefinitionError(
                f"{where}: minimum_interval_seconds={interval!r}; give a number of seconds > 0."
            )
        self.minimum_interval_seconds = interval
        if not isinstance(default_status, DefaultSensorStatus):
            raise InvalidDefinitionError(
                f"{where}: default_status must be DefaultSensorStatus.RUNNING or .STOPPED."
            )
        self.default_status = default_status
        self.tags = dict(tags or {})
        self.description = description or inspect.getdoc(evaluation_fn)
        self.sensor_type = sensor_type

    def __repr__(self) -> str:
        return f"<SensorDefinition {self.name!r} ({self.sensor_type})>"

    def describe_target(self) -> str:
        """The target in selection syntax, or ``-`` for sensors that only alert."""
        return self.target.describe() if self.target is not None else "-"

    def validate_for(self, definitions: Definitions) -> None:
        """Check the target exists in ``definitions`` (called by `Definitions`)."""
        if self.target is not None:
            self.target.validate(definitions, where=f"Sensor {self.name!r}")

    def evaluate(self, context: SensorEvaluationContext) -> SensorResult:
        """Run the function once and normalize what it returned.

        Example:
            >>> from datetime import UTC, datetime
            >>> s = SensorDefinition(name="s", target="a",
            ...     evaluation_fn=lambda ctx: [RunRequest(run_key="x")])
            >>> s.evaluate(SensorEvaluationContext(sensor_name="s",
            ...     now=datetime(2024, 1, 1, tzinfo=UTC))).run_requests[0].run_key
            'x'
        """
        returned = self.evaluation_fn(context)
        items: list[Any]
        if returned is None:
            items = []
        elif isinstance(returned, RunRequest | SkipReason | SensorResult | str):
            items = [returned]
        elif isinstance(returned, Iterable):
            items = list(returned)
        else:
            items = [returned]
        requests: list[RunRequest] = []
        adds: list[AddDynamicPartitionsRequest] = []
        skip: SkipReason | None = None
        cursor = context.cursor
        for item in items:
            if isinstance(item, RunRequest):
                requests.append(item)
            elif isinstance(item, SkipReason):
                skip = item
            elif isinstance(item, SensorResult):
                requests.extend(item.run_requests)
                adds.extend(item.dynamic_partitions_requests)
                if item.skip_reason is not None:
                    skip = _skip(item.skip_reason)
                if item.cursor is not None:
                    cursor = item.cursor
            elif isinstance(item, AddDynamicPartitionsRequest):
                adds.append(item)
            else:
                raise InvalidDefinitionError(
                    f"Sensor {self.name!r} returned {type(item).__name__} {item!r}; return "
                    "RunRequest objects, a SkipReason, a SensorResult, or None."
                )
        for request in requests:
            if self.target is None and request.asset_selection is None:
                raise InvalidDefinitionError(
                    f"Sensor {self.name!r} asked for a run but has no target; pass "
                    "target=... to the sensor, or asset_selection=[...] in the RunRequest."
                )
        if not requests and skip is None:
            skip = SkipReason("the sensor returned no run requests")
        tagged = [
            RunRequest(
                run_key=r.run_key,
                partition_key=r.partition_key,
                tags={**self.tags, "raystra/sensor": self.name, **r.tags},
                run_config=r.run_config,
                asset_selection=r.asset_selection,
            )
            for r in requests
        ]
        return SensorResult(
            run_requests=tagged,
            skip_reason=None if tagged else skip,
            cursor=cursor,
            dynamic_partitions_requests=adds,
        )


def _skip(reason: SkipReason | str) -> SkipReason:
    return reason if isinstance(reason, SkipReason) else SkipReason(reason)


def sensor(
    *,
    target: Any = None,
    name: str | None = None,
    minimum_interval_seconds: float = 30,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[[SensorEvaluationContext], Any]], SensorDefinition]:
    """Turn ``fn(context)`` into a `SensorDefinition` named after the function.

    Example:
        >>> @sensor(target="orders", minimum_interval_seconds=60)
        ... def new_orders(context):
        ...     last = int(context.cursor or 0)
        ...     context.update_cursor(str(last + 1))
        ...     return RunRequest(run_key=f"batch-{last + 1}")
        >>> new_orders.name
        'new_orders'
    """

    def decorate(fn: Callable[[SensorEvaluationContext], Any]) -> SensorDefinition:
        return SensorDefinition(
            name=name or fn.__name__,
            evaluation_fn=fn,
            target=target,
            minimum_interval_seconds=minimum_interval_seconds,
            default_status=default_status,
            tags=tags,
        )

    return decorate
