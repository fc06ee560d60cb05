"""Schedules: `@schedule`, `ScheduleDefinition` and `build_schedule_from_partitioned_job`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from raystra.automation._requests import DefaultScheduleStatus, RunRequest, SkipReason
from raystra.automation._target import AutomationTarget
from raystra.definitions import (
    AssetsDefinition,
    Definitions,
    TimeWindowPartitionsDefinition,
)
from raystra.definitions._cron import check_cron, check_timezone, cron_ticks
from raystra.definitions._keys import validate_name
from raystra.errors import InvalidDefinitionError

__all__ = [
    "CatchupPolicy",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "build_schedule_from_partitioned_job",
    "last_closed_partition",
    "schedule",
]

CatchupPolicy = Literal["latest", "all"]
_CATCHUP = ("latest", "all")


@dataclass(frozen=True, kw_only=True)
class ScheduleEvaluationContext:
    """What a schedule function gets: its name, the tick being evaluated, and run storage.

    Example:
        >>> from datetime import UTC, datetime
        >>> ctx = ScheduleEvaluationContext(schedule_name="nightly",
        ...     scheduled_execution_time=datetime(2024, 1, 1, tzinfo=UTC))
        >>> ctx.scheduled_execution_time.year
        2024
    """

    schedule_name: str
    scheduled_execution_time: datetime  # aware, in the schedule's execution_timezone
    storage: Any = None  # the RunStorage, when the daemon evaluates the tick


class ScheduleDefinition:
    """Launch runs of ``target`` on every tick of ``cron_schedule`` in ``execution_timezone``.

    Each tick's runs get the run key ``<tick time>`` unless the function gives its own, so a
    tick is never launched twice. While the daemon was down, ticks are missed; when it comes
    back ``catchup="latest"`` (the default, as Dagster) runs only the newest missed tick and
    ``catchup="all"`` runs every missed tick, oldest first, up to ``max_catchup_ticks``.

    Args:
        name: Unique among schedules and sensors.
        cron_schedule: Five-field cron.
        target: A selection string, `AssetSelection`, asset definitions or a `@job`.
        execution_timezone: IANA time zone the cron is read in (default UTC).
        evaluation_fn: ``fn(context)`` returning a `RunRequest`, a list of them, a
            `SkipReason`, a run config dict, or None (one plain run per tick).
        default_status: Whether it runs before ``raystra schedule start``/``stop``.

    Example:
        >>> nightly = ScheduleDefinition(name="nightly", cron_schedule="0 2 * * *",
        ...     target="group:sales", execution_timezone="Europe/Paris")
        >>> nightly.describe_target()
        'group:sales'
    """

    kind = "schedule"

    def __init__(
        self,
        *,
        name: str,
        cron_schedule: str,
        target: Any,
        execution_timezone: str = "UTC",
        evaluation_fn: Callable[..., Any] | None = None,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping[str, Any] | None = None,
        default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
        catchup: CatchupPolicy = "latest",
        max_catchup_ticks: int = 25,
        description: str | None = None,
    ) -> None:
        self.name = validate_name(name, what="Schedule name")
        where = f"Schedule {self.name!r}"
        self.cron_schedule = check_cron(cron_schedule, where=where)
        self.execution_timezone = check_timezone(execution_timezone, where=where)
        self.target = AutomationTarget.coerce(target, where=where)
        self.evaluation_fn = evaluation_fn
        self.tags = dict(tags or {})
        self.run_config = dict(run_config or {})
        if not isinstance(default_status, DefaultScheduleStatus):
            raise InvalidDefinitionError(
                f"{where}: default_status must be DefaultScheduleStatus.RUNNING or .STOPPED."
            )
        self.default_status = default_status
        if catchup not in _CATCHUP:
            raise InvalidDefinitionError(
                f"{where}: catchup={catchup!r}; use 'latest' (run only the newest missed tick) "
                "or 'all' (every missed tick, up to max_catchup_ticks)."
            )
        if not isinstance(max_catchup_ticks, int) or max_catchup_ticks < 1:
            raise InvalidDefinitionError(f"{where}: max_catchup_ticks must be an integer >= 1.")
        self.catchup: CatchupPolicy = catchup
        self.max_catchup_ticks = max_catchup_ticks
        self.description = description or (inspect.getdoc(evaluation_fn) if evaluation_fn else None)

    def __repr__(self) -> str:
        return (
            f"<ScheduleDefinition {self.name!r} {self.cron_schedule!r} {self.execution_timezone}>"
        )

    def describe_target(self) -> str:
        """The target in selection syntax (``job:NAME`` for a job)."""
        return self.target.describe()

    def validate_for(self, definitions: Definitions) -> None:
        """Check the target exists in ``definitions`` (called by `Definitions`)."""
        self.target.validate(definitions, where=f"Schedule {self.name!r}")

    def ticks(self, *, after: datetime, until: datetime) -> list[datetime]:
        """Ticks with ``after < tick <= until`` (aware, UTC), oldest first."""
        return list(
            cron_ticks(self.cron_schedule, self.execution_timezone, after=after, until=until)
        )

    def next_tick(self, after: datetime) -> datetime:
        """The first tick after ``after`` (UTC)."""
        return next(
            cron_ticks(
                self.cron_schedule,
                self.execution_timezone,
                after=after,
                until=after + timedelta(days=3660),
            )
        )

    def evaluate(self, context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        """The run requests of one tick (each with a run key), or why it launches nothing.

        Example:
            >>> from datetime import UTC, datetime
            >>> s = ScheduleDefinition(name="s", cron_schedule="0 * * * *", target="a")
            >>> tick = datetime(2024, 1, 1, 5, tzinfo=UTC)
            >>> [r.run_key for r in s.evaluate(ScheduleEvaluationContext(
            ...     schedule_name="s", scheduled_execution_time=tick))]
            ['2024-01-01T05:00:00+00:00']
        """
        result: Any = None
        if self.evaluation_fn is not None:
            result = self.evaluation_fn(context)
        if isinstance(result, SkipReason):
            return result
        if result is None or isinstance(result, Mapping):
            result = [RunRequest(run_config=dict(result or self.run_config))]
        elif isinstance(result, RunRequest):
            result = [result]
        elif isinstance(result, Iterable):
            result = list(result)
        requests: list[RunRequest] = []
        for item in result if isinstance(result, list) else [result]:
            if isinstance(item, SkipReason):
                return item
            if not isinstance(item, RunRequest):
                raise InvalidDefinitionError(
                    f"Schedule {self.name!r} returned {type(item).__name__} {item!r}; return a "
                    "RunRequest, a list of them, a SkipReason, a run config dict, or None."
                )
            requests.append(item)
        if not requests:
            return SkipReason("the schedule function returned no run requests")
        stamp = context.scheduled_execution_time.astimezone(UTC).isoformat()
        base_tags = {**self.tags, "raystra/schedule": self.name}
        return [
            RunRequest(
                # One request per tick is keyed by the tick; several get the tick and an index.
                run_key=r.run_key or (stamp if len(requests) == 1 else f"{stamp}#{i}"),
                partition_key=r.partition_key,
                tags={**base_tags, **r.tags},
                run_config=dict(r.run_config or self.run_config),
                asset_selection=r.asset_selection,
            )
            for i, r in enumerate(requests)
        ]


def schedule(
    *,
    cron_schedule: str,
    target: Any,
    name: str | None = None,
    execution_timezone: str = "UTC",
    tags: Mapping[str, str] | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    catchup: CatchupPolicy = "latest",
    max_catchup_ticks: int = 25,
) -> Callable[[Callable[..., Any]], ScheduleDefinition]:
    """Turn ``fn(context)`` into a `ScheduleDefinition` named after the function.

    Example:
        >>> @schedule(cron_schedule="0 6 * * 1-5", target="+revenue_report",
        ...           execution_timezone="America/New_York")
        ... def weekday_report(context):
        ...     return RunRequest(tags={"day": context.scheduled_execution_time.strftime("%a")})
        >>> weekday_report.name, weekday_report.cron_schedule
        ('weekday_report', '0 6 * * 1-5')
    """

    def decorate(fn: Callable[..., Any]) -> ScheduleDefinition:
        return ScheduleDefinition(
            name=name or fn.__name__,
            cron_schedule=cron_schedule,
            target=target,
            execution_timezone=execution_timezone,
            evaluation_fn=fn,
            tags=tags,
            default_status=default_status,
            catchup=catchup,
            max_catchup_ticks=max_catchup_ticks,
        )

    return decorate


def build_schedule_from_partitioned_job(
    job: AssetsDefinition | Iterable[AssetsDefinition] | Any,
    *,
    name: str | None = None,
    partitions_def: TimeWindowPartitionsDefinition | None = None,
    minute_of_hour: int | None = None,
    hour_of_day: int | None = None,
    execution_timezone: str | None = None,
    tags: Mapping[str, str] | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    catchup: CatchupPolicy = "latest",
) -> ScheduleDefinition:
    """A schedule that materializes, on each tick, the time partition that just closed.

    ``job`` is the time-partitioned asset(s) to run (or any target with ``partitions_def=``);
    the cron is the partitions' own, moved to ``minute_of_hour``/``hour_of_day`` when given
    (a daily partition of 2024-03-01 runs at 2024-03-02 01:00 with ``hour_of_day=1``).

    Example:
        >>> from raystra import DailyPartitionsDefinition, asset
        >>> @asset(partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"))
        ... def orders() -> list[int]:
        ...     return [1]
        >>> daily = build_schedule_from_partitioned_job(orders, hour_of_day=1)
        >>> daily.name, daily.cron_schedule
        ('orders_schedule', '0 1 * * *')
    """
    found = partitions_def or _partitions_def_of(job)
    if not isinstance(found, TimeWindowPartitionsDefinition):
        raise InvalidDefinitionError(
            "build_schedule_from_partitioned_job needs time-partitioned assets (daily, hourly, "
            f"... partitions); {job!r} has {found!r}. Pass the partitioned assets, or "
            "partitions_def=... with a selection."
        )
    window: TimeWindowPartitionsDefinition = found
    cron = _shift_cron(window.cron_schedule, minute_of_hour, hour_of_day)
    default_name = getattr(job, "name", None)
    schedule_name = name or (f"{default_name}_schedule" if default_name else None)
    if schedule_name is None:
        raise InvalidDefinitionError(
            "build_schedule_from_partitioned_job: pass name=... for a target without a name."
        )

    def closed_partition(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        tick = context.scheduled_execution_time
        key = last_closed_partition(window, tick)
        if key is None:
            return SkipReason(f"no partition of {window.describe()} has closed by {tick}")
        return RunRequest(partition_key=key)

    return ScheduleDefinition(
        name=schedule_name,
        cron_schedule=cron,
        target=job,
        execution_timezone=execution_timezone or window.timezone,
        evaluation_fn=closed_partition,
        tags=tags,
        default_status=default_status,
        catchup=catchup,
        description=f"Materializes each partition of {window.describe()} once it has closed.",
    )


def last_closed_partition(window: TimeWindowPartitionsDefinition, at: datetime) -> str | None:
    """The key of the newest window that has closed by ``at`` (None: none has yet).

    Example:
        >>> from raystra import DailyPartitionsDefinition
        >>> days = DailyPartitionsDefinition(start_date="2024-01-01")
        >>> last_closed_partition(days, datetime(2024, 3, 2, 1, tzinfo=UTC))
        '2024-03-01'
    """
    open_key = window.partition_key_for_time(at)
    before = window.time_window_for_partition_key(open_key).start - timedelta(microseconds=1)
    key = window.partition_key_for_time(before)
    return key if window.has_partition_key(key, current_time=at) else None


def _partitions_def_of(job: Any) -> Any:
    items = [job] if isinstance(job, AssetsDefinition) else job
    if not isinstance(items, Iterable) or isinstance(items, str):
        return None
    found = {item.partitions_def for item in items if isinstance(item, AssetsDefinition)}
    if len(found) > 1:
        raise InvalidDefinitionError(
            "build_schedule_from_partitioned_job: the assets have different partitions "
            f"({', '.join(sorted(map(str, found)))}); one schedule runs one partitioning."
        )
    return next(iter(found), None)


def _shift_cron(cron: str, minute: int | None, hour: int | None) -> str:
    fields = cron.split()
    if minute is not None:
        fields[0] = str(minute)
    if hour is not None:
        fields[1] = str(hour)
    return " ".join(fields)
