"""Schedules and sensors as a user manages them: list, start, stop, preview, tick history.

Shared by ``raystra schedule|sensor ...`` and the web UI's automation page, so both show the
same status and refuse the same mistakes. Previews evaluate a schedule or sensor function
without writing anything: no tick, no cursor, no run key, no dynamic partition.

Example:
    >>> from datetime import UTC, datetime
    >>> from raystra import Definitions, asset
    >>> from raystra.automation import ScheduleDefinition
    >>> from raystra.storage import open_storage
    >>> @asset
    ... def numbers() -> list[int]:
    ...     return [1]
    >>> defs = Definitions(assets=[numbers], schedules=[
    ...     ScheduleDefinition(name="hourly", cron_schedule="0 * * * *", target="numbers")])
    >>> storage = open_storage("sqlite://")
    >>> now = datetime(2024, 1, 1, 12, 30, tzinfo=UTC)
    >>> [(s.name, s.status) for s in instigator_summaries(defs, storage, now=now)]
    [('hourly', 'stopped')]
    >>> set_instigator_status(defs, storage, "hourly", running=True, now=now).status
    'running'
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from raystra.automation._requests import RunRequest, SkipReason
from raystra.automation._schedule import ScheduleDefinition, ScheduleEvaluationContext
from raystra.automation._sensor import SensorDefinition, SensorEvaluationContext
from raystra.automation._ticks import is_running, launch_request
from raystra.definitions import Definitions
from raystra.definitions._partitions._timefmt import load_timezone
from raystra.errors import RaystraError
from raystra.storage import RunStorage
from raystra.storage._automation_records import InstigatorState, TickRecord

__all__ = [
    "InstigatorSummary",
    "Preview",
    "UnknownInstigatorError",
    "find_instigator",
    "instigator_summaries",
    "preview_schedule",
    "preview_sensor",
    "set_instigator_status",
]

Instigator = ScheduleDefinition | SensorDefinition


class UnknownInstigatorError(RaystraError):
    """No schedule or sensor of that name in the definitions."""


@dataclass(frozen=True, kw_only=True)
class InstigatorSummary:
    """One schedule or sensor with its effective status and its latest tick.

    ``status`` is ``running`` or ``stopped``; ``status_source`` says whether a user set it
    (``set``) or it is the definition's ``default_status`` (``default``).
    """

    name: str
    kind: str
    status: str
    status_source: str
    target: str
    description: str | None
    cron_schedule: str | None = None
    execution_timezone: str | None = None
    next_tick_at: datetime | None = None
    minimum_interval_seconds: float | None = None
    sensor_type: str | None = None
    cursor: str | None = None
    last_tick: TickRecord | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO strings), as the web API returns it."""
        last = self.last_tick
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "status_source": self.status_source,
            "target": self.target,
            "description": self.description,
            "cron_schedule": self.cron_schedule,
            "execution_timezone": self.execution_timezone,
            "next_tick_at": self.next_tick_at.isoformat() if self.next_tick_at else None,
            "minimum_interval_seconds": self.minimum_interval_seconds,
            "sensor_type": self.sensor_type,
            "cursor": self.cursor,
            "last_tick": tick_json(last) if last is not None else None,
        }


def tick_json(tick: TickRecord) -> dict[str, Any]:
    """A stored tick as JSON (times as ISO strings in UTC)."""
    return {
        "tick_id": tick.tick_id,
        "tick_at": datetime.fromtimestamp(tick.tick_at, UTC).isoformat(),
        "status": tick.status,
        "run_ids": list(tick.run_ids),
        "run_keys": list(tick.run_keys),
        "skip_reason": tick.skip_reason,
        "error": tick.error,
        "cursor": tick.cursor,
    }


@dataclass(frozen=True, kw_only=True)
class Preview:
    """What one evaluation would do, computed without writing anything.

    ``runs`` are the launches in their stored form (selection, job, partition, tags);
    ``already_launched`` are run keys this schedule/sensor claimed before, which the daemon
    would not launch again.
    """

    name: str
    kind: str
    evaluated_at: datetime
    runs: list[dict[str, Any]] = field(default_factory=list)
    run_keys: list[str | None] = field(default_factory=list)
    already_launched: list[str] = field(default_factory=list)
    skip_reason: str | None = None
    cursor: str | None = None
    dynamic_partitions: dict[str, list[str]] = field(default_factory=dict)
    next_ticks: list[datetime] = field(default_factory=list)


def find_instigator(definitions: Definitions, name: str, *, kind: str | None = None) -> Instigator:
    """The schedule or sensor called ``name`` (of ``kind`` when given), or a helpful error."""
    candidates: list[Instigator] = []
    if kind in (None, "schedule"):
        candidates.extend(s for s in definitions.schedules if isinstance(s, ScheduleDefinition))
    if kind in (None, "sensor"):
        candidates.extend(s for s in definitions.sensors if isinstance(s, SensorDefinition))
    for item in candidates:
        if item.name == name:
            return item
    what = kind or "schedule or sensor"
    names = sorted(item.name for item in candidates)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    known = ", ".join(names) if names else f"none are defined (Definitions({what}s=[...]))"
    raise UnknownInstigatorError(f"No {what} named {name!r}.{hint} Known: {known}.")


def _summary(
    item: Instigator, state: InstigatorState | None, last: TickRecord | None, now: datetime
) -> InstigatorSummary:
    user_set = state is not None and state.status is not None
    common: dict[str, Any] = {
        "name": item.name,
        "kind": item.kind,
        "status": "running" if is_running(item, state) else "stopped",
        "status_source": "set" if user_set else "default",
        "target": item.describe_target(),
        "description": item.description,
        "last_tick": last,
        "cursor": state.cursor if state is not None else None,
    }
    if isinstance(item, ScheduleDefinition):
        return InstigatorSummary(
            **common,
            cron_schedule=item.cron_schedule,
            execution_timezone=item.execution_timezone,
            next_tick_at=item.next_tick(now) if common["status"] == "running" else None,
        )
    return InstigatorSummary(
        **common,
        minimum_interval_seconds=item.minimum_interval_seconds,
        sensor_type=item.sensor_type,
    )


def instigator_summaries(
    definitions: Definitions, storage: RunStorage, *, now: datetime, kind: str | None = None
) -> list[InstigatorSummary]:
    """Every schedule and sensor (or those of ``kind``) with status, next tick and last tick."""
    items: list[Instigator] = []
    if kind in (None, "schedule"):
        items.extend(s for s in definitions.schedules if isinstance(s, ScheduleDefinition))
    if kind in (None, "sensor"):
        items.extend(s for s in definitions.sensors if isinstance(s, SensorDefinition))
    states = storage.get_instigator_states([item.name for item in items])
    summaries = []
    for item in items:
        ticks = storage.get_ticks(item.name, limit=1)
        summaries.append(_summary(item, states.get(item.name), ticks[0] if ticks else None, now))
    return summaries


def set_instigator_status(
    definitions: Definitions,
    storage: RunStorage,
    name: str,
    *,
    running: bool,
    now: datetime,
    kind: str | None = None,
) -> InstigatorSummary:
    """Start or stop a schedule or sensor; the stored status overrides its default.

    Starting a schedule starts it from ``now``: ticks that passed while it was stopped are
    not caught up (catch-up is for a daemon that was down, not for a stopped schedule).
    """
    item = find_instigator(definitions, name, kind=kind)
    state = storage.get_instigator_states([item.name]).get(item.name)
    was_running = is_running(item, state)
    values: dict[str, Any] = {"status": "running" if running else "stopped"}
    if running and not was_running and isinstance(item, ScheduleDefinition):
        values["last_tick_at"] = now.timestamp()
    storage.save_instigator_state(item.name, kind=item.kind, **values)
    state = storage.get_instigator_states([item.name]).get(item.name)
    ticks = storage.get_ticks(item.name, limit=1)
    return _summary(item, state, ticks[0] if ticks else None, now)


def _already_launched(storage: RunStorage, name: str, keys: Sequence[str | None]) -> list[str]:
    return [key for key in keys if key is not None and storage.get_run_key(name, key) is not None]


def preview_schedule(
    definitions: Definitions,
    storage: RunStorage,
    name: str,
    *,
    now: datetime,
    count: int = 5,
) -> Preview:
    """The next ``count`` ticks after ``now`` and what the first of them would launch."""
    item = find_instigator(definitions, name, kind="schedule")
    assert isinstance(item, ScheduleDefinition)
    ticks: list[datetime] = []
    after = now
    for _ in range(count):
        after = item.next_tick(after)
        ticks.append(after)
    tz = load_timezone(item.execution_timezone)
    context = ScheduleEvaluationContext(
        schedule_name=item.name, scheduled_execution_time=ticks[0].astimezone(tz), storage=storage
    )
    result = item.evaluate(context)
    return _preview_of(definitions, storage, item, ticks[0], result, next_ticks=ticks)


def preview_sensor(
    definitions: Definitions,
    storage: RunStorage,
    name: str,
    *,
    now: datetime,
    cursor: str | None = None,
    use_stored_cursor: bool = True,
) -> Preview:
    """Evaluate a sensor once, from its stored cursor (or ``cursor``), recording nothing."""
    item = find_instigator(definitions, name, kind="sensor")
    assert isinstance(item, SensorDefinition)
    state = storage.get_instigator_states([item.name]).get(item.name)
    if cursor is None and use_stored_cursor and state is not None:
        cursor = state.cursor
    last = state.last_tick_at if state is not None else None
    context = SensorEvaluationContext(
        sensor_name=item.name,
        cursor=cursor,
        now=now,
        last_tick_at=datetime.fromtimestamp(last, UTC) if last is not None else None,
        storage=storage,
        definitions=definitions,
    )
    result = item.evaluate(context)
    preview = _preview_of(definitions, storage, item, now, result.run_requests or None)
    skip = result.skip_reason
    return replace(
        preview,
        skip_reason=skip.message if isinstance(skip, SkipReason) else skip,
        cursor=result.cursor,
        dynamic_partitions={
            add.partitions_def_name: list(add.partition_keys)
            for add in result.dynamic_partitions_requests
        },
    )


def _preview_of(
    definitions: Definitions,
    storage: RunStorage,
    item: Instigator,
    at: datetime,
    result: Sequence[RunRequest] | SkipReason | None,
    *,
    next_ticks: list[datetime] | None = None,
) -> Preview:
    if isinstance(result, SkipReason):
        return Preview(
            name=item.name,
            kind=item.kind,
            evaluated_at=at,
            skip_reason=result.message or "skipped",
            next_ticks=next_ticks or [],
        )
    requests = list(result or [])
    keys = [request.run_key for request in requests]
    return Preview(
        name=item.name,
        kind=item.kind,
        evaluated_at=at,
        runs=[launch_request(definitions, item.target, request) for request in requests],
        run_keys=keys,
        already_launched=_already_launched(storage, item.name, keys),
        next_ticks=next_ticks or [],
    )
