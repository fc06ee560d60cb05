"""What schedules and sensors launch: jobs with run config, narrowed selections, bad requests."""

from __future__ import annotations

from datetime import UTC, datetime

from raystra import (
    AssetKey,
    Config,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    DynamicPartitionsDefinition,
    RunRequest,
    asset,
    job,
    op,
    schedule,
    sensor,
)

RUNNING = DefaultScheduleStatus.RUNNING


class Greeting(Config):
    name: str = "world"


greeted: list[str] = []


@op
def greet(config: Greeting) -> str:
    greeted.append(config.name)
    return f"hello {config.name}"


@job
def greet_job():  # type: ignore[no-untyped-def]
    greet()


@asset
def orders() -> list[int]:
    return [1, 2]


@asset
def order_count(orders: list[int]) -> int:
    return len(orders)


def test_a_schedule_targeting_a_job_runs_it_with_the_requests_run_config(
    stepped, storage, clock
) -> None:
    greeted.clear()

    @schedule(cron_schedule="0 * * * *", target=greet_job, default_status=RUNNING)
    def hourly_greeting(context):  # type: ignore[no-untyped-def]
        hour = context.scheduled_execution_time.strftime("%H:%M")
        return RunRequest(
            run_key=hour, run_config={"ops": {"greet": {"config": {"name": f"at {hour}"}}}}
        )

    daemon = stepped(Definitions(jobs=[greet_job], schedules=[hourly_greeting]))
    clock.set(datetime(2024, 3, 1, 12, 30, tzinfo=UTC))
    daemon.step()
    (run_id,) = daemon.step(hours=1).launched
    run = storage.get_run(run_id)
    assert (run.job_name, run.status.value) == ("greet_job", "SUCCESS")
    assert greeted == ["at 13:00"]
    assert storage.get_ticks("hourly_greeting")[0].run_ids == (run_id,)


def test_a_request_can_narrow_the_sensors_target(stepped, storage) -> None:
    @sensor(target="orders+", default_status=DefaultSensorStatus.RUNNING)
    def only_orders(context):  # type: ignore[no-untyped-def]
        return RunRequest(run_key="narrow", asset_selection=["orders"])

    daemon = stepped(Definitions(assets=[orders, order_count], sensors=[only_orders]))
    (run_id,) = daemon.step().launched
    assert storage.get_run(run_id).selection == ("orders",)
    assert storage.get_materializations(AssetKey("order_count")) == []
    assert len(storage.get_materializations(AssetKey("orders"))) == 1


def test_a_request_for_an_unknown_partition_fails_its_launch_once(stepped, storage) -> None:
    files = DynamicPartitionsDefinition(name="files")

    @asset(partitions_def=files)
    def per_file() -> int:
        return 1

    @sensor(
        target="per_file", minimum_interval_seconds=1, default_status=DefaultSensorStatus.RUNNING
    )
    def typo(context):  # type: ignore[no-untyped-def]
        return RunRequest(run_key="never-added", partition_key="never-added")

    daemon = stepped(Definitions(assets=[per_file], sensors=[typo]))
    assert daemon.step().launched != []  # claimed and tried: the launch itself fails
    assert storage.get_runs() == []
    assert storage.pending_launches() == []  # recorded as failed, never retried
    launch = storage.get_run_key("typo", "never-added")
    assert launch is not None and "never-added" in (launch.launch_error or ""), launch
    assert daemon.step(seconds=5).launched == []
    assert storage.get_runs() == []
