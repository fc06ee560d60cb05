"""One evaluation of schedules and sensors against run storage, at an explicit ``now``.

Every function takes ``now`` (an aware datetime) instead of reading the clock, so tests step
time without sleeping; the daemon passes the real time. Runs are not launched here: each
run request claims its run key in storage (`RunStorage.reserve_run_key`, refused when the key
was claimed before) together with the launch it stands for, and the launcher starts what is
claimed but not yet recorded (`RunStorage.pending_launches`). A crash between the two loses
nothing and launches nothing twice.

Example:
    >>> from datetime import UTC, datetime
    >>> from raystra import Definitions
    >>> from raystra.storage import open_storage
    >>> evaluate_instigators(Definitions(), open_storage("sqlite://"), now=datetime.now(UTC))
    []
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from raystra.automation._requests import DefaultScheduleStatus, RunRequest, SkipReason
from raystra.automation._schedule import ScheduleDefinition, ScheduleEvaluationContext
from raystra.automation._sensor import SensorDefinition, SensorEvaluationContext
from raystra.automation._target import AutomationTarget
from raystra.definitions import Definitions
from raystra.definitions._partitions._timefmt import load_timezone
from raystra.storage import RunStorage
from raystra.storage._automation_records import InstigatorState, TickRecord

__all__ = [
    "RUN_KEY_TAG",
    "TickOutcome",
    "evaluate_instigators",
    "evaluate_schedule",
    "evaluate_sensor",
    "is_running",
    "launch_request",
]

_log = logging.getLogger("raystra.daemon")
RUN_KEY_TAG = "raystra/run_key"


@dataclass(frozen=True)
class TickOutcome:
    """What one tick did: its stored record and the run ids it claimed."""

    name: str
    tick: TickRecord


def is_running(
    instigator: ScheduleDefinition | SensorDefinition, state: InstigatorState | None
) -> bool:
    """Whether the daemon evaluates it: the status a user set, else the definition's default."""
    if state is not None and state.status is not None:
        return state.status == "running"
    return instigator.default_status is DefaultScheduleStatus.RUNNING


def launch_request(
    definitions: Definitions, target: AutomationTarget | None, request: RunRequest
) -> dict[str, Any]:
    """The stored form of one run to launch (what `raystra.automation._launcher` runs)."""
    if target is not None and target.job is not None:
        selection: list[str] = []
        job: str | None = target.job.name
    else:
        job = None
        if request.asset_keys is not None:
            selection = sorted(k.to_user_string() for k in request.asset_keys)
        else:
            assert target is not None  # checked when the sensor's result was normalized
            selection = sorted(k.to_user_string() for k in target.asset_keys(definitions))
    return {
        "selection": selection,
        "job": job,
        "partition_key": request.partition_key,
        "tags": dict(request.tags),
        "run_config": dict(request.run_config),
    }


def _claim(
    definitions: Definitions,
    storage: RunStorage,
    name: str,
    target: AutomationTarget | None,
    requests: Sequence[RunRequest],
) -> tuple[list[str], list[str], list[str]]:
    """Claim each request's run key; (run ids claimed, their keys, keys claimed before)."""
    run_ids, keys, duplicates = [], [], []
    for request in requests:
        key = request.run_key or f"unkeyed:{uuid.uuid4()}"
        run_id = str(uuid.uuid4())
        launch = launch_request(definitions, target, request)
        launch["tags"] = {**launch["tags"], RUN_KEY_TAG: key}
        if storage.reserve_run_key(name, key, run_id=run_id, request=launch):
            run_ids.append(run_id)
            keys.append(key)
        else:
            duplicates.append(key)
    return run_ids, keys, duplicates


def _record(
    storage: RunStorage,
    instigator: ScheduleDefinition | SensorDefinition,
    *,
    at: datetime,
    run_ids: list[str],
    keys: list[str],
    duplicates: list[str],
    skip: str | None,
    cursor: str | None,
) -> TickRecord:
    if not run_ids and skip is None:
        shown = ", ".join(duplicates[:5]) + (" ..." if len(duplicates) > 5 else "")
        skip = f"run key(s) already requested before: {shown}"
    tick = TickRecord(
        name=instigator.name,
        kind=instigator.kind,
        tick_at=at.timestamp(),
        status="success" if run_ids else "skipped",
        run_ids=tuple(run_ids),
        run_keys=tuple(keys),
        skip_reason=skip,
        cursor=cursor,
    )
    storage.add_tick(tick)
    return tick


def _failed(
    storage: RunStorage,
    instigator: ScheduleDefinition | SensorDefinition,
    at: datetime,
    err: BaseException,
    cursor: str | None,
) -> TickRecord:
    _log.warning("%s %r failed: %s", instigator.kind, instigator.name, err)
    tick = TickRecord(
        name=instigator.name,
        kind=instigator.kind,
        tick_at=at.timestamp(),
        status="failed",
        error="".join(traceback.format_exception(err)),
        cursor=cursor,
    )
    storage.add_tick(tick)
    return tick


def evaluate_schedule(
    definitions: Definitions,
    storage: RunStorage,
    schedule: ScheduleDefinition,
    *,
    now: datetime,
    state: InstigatorState | None = None,
) -> list[TickRecord]:
    """Evaluate the ticks of ``schedule`` that passed since the last evaluation.

    The first evaluation of a running schedule only records ``now`` as its starting point.
    Of the ticks missed since, the catch-up policy picks which run: the newest (``latest``)
    or every one up to ``max_catchup_ticks`` (``all``). A tick whose function raises is
    recorded ``failed`` and not retried.
    """
    if state is None:
        state = storage.get_instigator_states([schedule.name]).get(schedule.name)
    if not is_running(schedule, state):
        return []
    last = state.last_tick_at if state is not None else None
    if last is None:
        storage.save_instigator_state(schedule.name, kind="schedule", last_tick_at=now.timestamp())
        return []
    ticks = schedule.ticks(after=datetime.fromtimestamp(last, UTC), until=now)
    if not ticks:
        return []
    chosen = ticks[-1:] if schedule.catchup == "latest" else ticks[-schedule.max_catchup_ticks :]
    if len(ticks) > len(chosen):
        _log.info(
            "schedule %r: %d tick(s) missed while the daemon was down; catch-up policy %r runs %d",
            schedule.name,
            len(ticks),
            schedule.catchup,
            len(chosen),
        )
    records = []
    tz = load_timezone(schedule.execution_timezone)
    for tick in chosen:
        context = ScheduleEvaluationContext(
            schedule_name=schedule.name,
            scheduled_execution_time=tick.astimezone(tz),
            storage=storage,
        )
        try:
            result = schedule.evaluate(context)
            if isinstance(result, SkipReason):
                records.append(
                    _record(
                        storage,
                        schedule,
                        at=tick,
                        run_ids=[],
                        keys=[],
                        duplicates=[],
                        skip=result.message or "skipped",
                        cursor=None,
                    )
                )
                continue
            run_ids, keys, duplicates = _claim(
                definitions, storage, schedule.name, schedule.target, result
            )
        except Exception as err:
            records.append(_failed(storage, schedule, tick, err, None))
            continue
        records.append(
            _record(
                storage,
                schedule,
                at=tick,
                run_ids=run_ids,
                keys=keys,
                duplicates=duplicates,
                skip=None,
                cursor=None,
            )
        )
    storage.save_instigator_state(
        schedule.name, kind="schedule", last_tick_at=ticks[-1].timestamp()
    )
    return records


def evaluate_sensor(
    definitions: Definitions,
    storage: RunStorage,
    sensor: SensorDefinition,
    *,
    now: datetime,
    state: InstigatorState | None = None,
    force: bool = False,
) -> TickRecord | None:
    """Evaluate ``sensor`` once if it is running and its minimum interval has passed.

    Dynamic partitions it asks for are added first, then run keys are claimed, then the tick
    and the new cursor are stored. If the function raises, the tick is recorded ``failed``
    with the traceback and the cursor stays where it was. ``force`` ignores status and
    interval (``raystra sensor preview`` uses a throwaway storage instead).
    """
    if state is None:
        state = storage.get_instigator_states([sensor.name]).get(sensor.name)
    if not force and not is_running(sensor, state):
        return None
    last = state.last_tick_at if state is not None else None
    if not force and last is not None and now.timestamp() - last < sensor.minimum_interval_seconds:
        return None
    cursor = state.cursor if state is not None else None
    context = SensorEvaluationContext(
        sensor_name=sensor.name,
        cursor=cursor,
        now=now,
        last_tick_at=datetime.fromtimestamp(last, UTC) if last is not None else None,
        storage=storage,
        definitions=definitions,
    )
    try:
        result = sensor.evaluate(context)
        for add in result.dynamic_partitions_requests:
            storage.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
        run_ids, keys, duplicates = _claim(
            definitions, storage, sensor.name, sensor.target, result.run_requests
        )
    except Exception as err:
        tick = _failed(storage, sensor, now, err, cursor)
        storage.save_instigator_state(sensor.name, kind="sensor", last_tick_at=now.timestamp())
        return tick
    skip = result.skip_reason
    message = skip.message if isinstance(skip, SkipReason) else skip
    tick = _record(
        storage,
        sensor,
        at=now,
        run_ids=run_ids,
        keys=keys,
        duplicates=duplicates,
        skip=message,
        cursor=result.cursor,
    )
    storage.save_instigator_state(
        sensor.name, kind="sensor", cursor=result.cursor, last_tick_at=now.timestamp()
    )
    return tick


def evaluate_instigators(
    definitions: Definitions, storage: RunStorage, *, now: datetime
) -> list[TickOutcome]:
    """Evaluate every schedule and sensor of ``definitions`` once; the ticks recorded.

    One failing schedule or sensor (even a storage error while recording it) never stops the
    others: it is logged and the loop goes on.
    """
    states = storage.get_instigator_states()
    outcomes: list[TickOutcome] = []
    for schedule in definitions.schedules:
        assert isinstance(schedule, ScheduleDefinition)
        try:
            ticks = evaluate_schedule(
                definitions, storage, schedule, now=now, state=states.get(schedule.name)
            )
        except Exception:
            _log.exception("schedule %r could not be evaluated", schedule.name)
            continue
        outcomes.extend(TickOutcome(schedule.name, tick) for tick in ticks)
    for sensor in definitions.sensors:
        assert isinstance(sensor, SensorDefinition)
        try:
            tick = evaluate_sensor(
                definitions, storage, sensor, now=now, state=states.get(sensor.name)
            )
        except Exception:
            _log.exception("sensor %r could not be evaluated", sensor.name)
            continue
        if tick is not None:
            outcomes.append(TickOutcome(sensor.name, tick))
    return outcomes
