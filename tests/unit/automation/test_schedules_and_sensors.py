"""Schedules and sensors evaluated by the daemon iteration with a stepped clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from raystra import (
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    InvalidDefinitionError,
    RunRequest,
    SkipReason,
    UnknownAssetError,
    asset,
    build_schedule_from_partitioned_job,
    schedule,
    sensor,
)
from raystra.automation import ScheduleDefinition

RUNNING = DefaultScheduleStatus.RUNNING


@asset
def numbers() -> list[int]:
    return [1, 2, 3]


def test_cron_ticks_follow_the_wall_clock_across_dst() -> None:
    nightly = ScheduleDefinition(
        name="nightly",
        cron_schedule="30 2 * * *",
        target="numbers",
        execution_timezone="America/New_York",
    )
    ny = ZoneInfo("America/New_York")
    spring = nightly.ticks(
        after=datetime(2024, 3, 9, tzinfo=UTC), until=datetime(2024, 3, 12, tzinfo=UTC)
    )
    # 02:30 does not exist on 2024-03-10: it fires at 03:30 EDT, once.
    assert [t.astimezone(ny).isoformat() for t in spring] == [
        "2024-03-09T02:30:00-05:00",
        "2024-03-10T03:30:00-04:00",
        "2024-03-11T02:30:00-04:00",
    ]
    hourly_fall = ScheduleDefinition(
        name="h",
        cron_schedule="30 1 * * *",
        target="numbers",
        execution_timezone="America/New_York",
    )
    fall = hourly_fall.ticks(
        after=datetime(2024, 11, 3, tzinfo=UTC), until=datetime(2024, 11, 4, tzinfo=UTC)
    )
    assert len(fall) == 1  # 01:30 happens twice on 2024-11-03; the schedule fires once


def test_missed_ticks_run_latest_only_by_default_and_never_twice(stepped, storage, clock) -> None:
    latest = ScheduleDefinition(
        name="latest", cron_schedule="0 * * * *", target="numbers", default_status=RUNNING
    )
    every = ScheduleDefinition(
        name="every",
        cron_schedule="0 * * * *",
        target="numbers",
        default_status=RUNNING,
        catchup="all",
    )
    daemon = stepped(Definitions(assets=[numbers], schedules=[latest, every]))
    clock.set(datetime(2024, 3, 1, 12, 30, tzinfo=UTC))
    assert daemon.step().launched == []  # the first evaluation only marks the start
    daemon.step(hours=3)  # daemon "down" over the 13:00, 14:00 and 15:00 ticks
    keys = {t.run_keys[0] for t in storage.get_ticks("every")}
    assert keys == {f"2024-03-01T{h}:00:00+00:00" for h in (13, 14, 15)}
    assert [t.run_keys for t in storage.get_ticks("latest")] == [("2024-03-01T15:00:00+00:00",)]
    assert len(storage.get_runs()) == 4
    # Rewind the stored cursor (as a crash before saving it would): the keys refuse a relaunch.
    storage.save_instigator_state(
        "latest", kind="schedule", last_tick_at=0.0 + clock.now.timestamp() - 3600 * 3
    )
    daemon.step()
    assert len(storage.get_runs()) == 4
    assert "already requested" in (storage.get_ticks("latest")[0].skip_reason or "")


def test_partitioned_schedule_materializes_the_partition_that_just_closed(
    stepped, storage, clock
) -> None:
    @asset(partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"))
    def orders() -> list[int]:
        return [1]

    daily = build_schedule_from_partitioned_job(orders, hour_of_day=1, default_status=RUNNING)
    daemon = stepped(Definitions(assets=[orders], schedules=[daily]))
    clock.set(datetime(2024, 3, 1, 12, tzinfo=UTC))
    daemon.step()
    daemon.step(hours=14)  # past 2024-03-02 01:00
    (run,) = storage.get_runs()
    assert run.status.value == "SUCCESS"
    assert set(storage.partition_states(orders.key)) == {"2024-03-01"}


def test_a_stopped_schedule_does_not_run(stepped, storage, clock) -> None:
    off = ScheduleDefinition(name="off", cron_schedule="* * * * *", target="numbers")
    daemon = stepped(Definitions(assets=[numbers], schedules=[off]))
    daemon.step()
    daemon.step(minutes=5)
    assert storage.get_runs() == []


def test_sensor_cursor_persists_and_run_keys_are_idempotent(stepped, storage, clock) -> None:
    seen: list[str | None] = []

    @sensor(
        target="numbers", minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING
    )
    def batches(context):  # type: ignore[no-untyped-def]
        seen.append(context.cursor)
        n = int(context.cursor or 0) + 1
        context.update_cursor(str(n))
        return [RunRequest(run_key=f"batch-{n}"), RunRequest(run_key="always-the-same")]

    daemon = stepped(Definitions(assets=[numbers], sensors=[batches]))
    daemon.step()
    daemon.step(seconds=10)  # inside the minimum interval: not evaluated
    daemon.step(seconds=30)
    assert seen == [None, "1"]
    runs = storage.get_runs()
    assert sorted(r.tags["raystra/run_key"] for r in runs) == [
        "always-the-same",
        "batch-1",
        "batch-2",
    ]
    assert storage.get_instigator_states()["batches"].cursor == "2"


def test_a_raising_sensor_fails_its_tick_and_the_others_keep_going(stepped, storage) -> None:
    @sensor(default_status=DefaultSensorStatus.RUNNING, target="numbers")
    def broken(context):  # type: ignore[no-untyped-def]
        raise RuntimeError("bucket unreachable")

    @sensor(default_status=DefaultSensorStatus.RUNNING, target="numbers")
    def fine(context):  # type: ignore[no-untyped-def]
        return SkipReason("nothing new")

    daemon = stepped(Definitions(assets=[numbers], sensors=[broken, fine]))
    daemon.step()
    (tick,) = storage.get_ticks("broken")
    assert tick.status == "failed" and "bucket unreachable" in (tick.error or "")
    assert storage.get_ticks("fine")[0].skip_reason == "nothing new"


def test_definitions_reject_bad_schedules_and_sensors() -> None:
    with pytest.raises(InvalidDefinitionError, match="not a valid cron"):
        ScheduleDefinition(name="s", cron_schedule="every day", target="numbers")
    with pytest.raises(InvalidDefinitionError, match="time zone"):
        ScheduleDefinition(
            name="s", cron_schedule="0 * * * *", target="numbers", execution_timezone="Mars/Olympus"
        )
    unknown = ScheduleDefinition(name="s", cron_schedule="0 * * * *", target="numbrs")
    with pytest.raises(UnknownAssetError, match=r"Schedule 's'.*numbrs"):
        Definitions(assets=[numbers], schedules=[unknown])

    @schedule(cron_schedule="0 * * * *", target="numbers", name="twin")
    def one(context):  # type: ignore[no-untyped-def]
        return None

    @sensor(target="numbers", name="twin")
    def two(context):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(Exception, match="twin"):
        Definitions(assets=[numbers], schedules=[one], sensors=[two])
