"""Asset sensors and run status sensors: each new materialization or finished run, once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from raystra import (
    AssetKey,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    RunStatusSensorContext,
    asset,
    asset_sensor,
    materialize,
    run_failure_sensor,
    run_status_sensor,
)
from raystra.events import RunStatus
from raystra.storage import MaterializationRecord, RunStorage

RUNNING = DefaultSensorStatus.RUNNING


@asset
def source() -> int:
    return 1


@asset
def report(source: int) -> int:
    return source * 10


@asset
def broken() -> int:
    raise ValueError("upstream API returned 503")


def count(storage: RunStorage, name: str) -> int:
    return len(storage.get_materializations(AssetKey(name), limit=1000))


def test_asset_sensor_runs_once_per_new_materialization(stepped, storage) -> None:
    seen: list[int] = []

    @asset_sensor(
        asset_key="source", target="report", minimum_interval_seconds=1, default_status=RUNNING
    )
    def source_updated(context, materialization: MaterializationRecord):  # type: ignore[no-untyped-def]
        seen.append(materialization.storage_id)
        return RunRequest(run_key=f"source-{materialization.storage_id}")

    defs = Definitions(assets=[source, report], sensors=[source_updated])
    daemon = stepped(defs)
    assert daemon.step(seconds=5).launched == []
    assert storage.get_ticks("source_updated")[0].skip_reason == "no new materialization of source"

    materialize(defs, "source", storage=storage)
    assert len(daemon.step(seconds=5).launched) == 1
    assert count(storage, "report") == 1
    assert daemon.step(seconds=5).launched == []
    assert daemon.step(seconds=5).launched == []

    # Two materializations between ticks: the sensor sees the newest one, once.
    materialize(defs, "source", storage=storage)
    materialize(defs, "source", storage=storage)
    newest = storage.get_materializations(AssetKey("source"), limit=1)[0].storage_id
    assert len(daemon.step(seconds=5).launched) == 1
    assert seen[-1] == newest and len(seen) == 2
    assert storage.get_instigator_states()["source_updated"].cursor == str(newest)
    assert daemon.step(seconds=5).launched == []
    assert count(storage, "report") == 2


def test_run_status_sensors_report_each_finished_run_once(stepped, storage, event_clock) -> None:
    succeeded: list[str] = []
    failed: list[tuple[str, list[str]]] = []

    @run_status_sensor(
        run_status="SUCCESS",
        target="report",
        minimum_interval_seconds=1,
        default_status=RUNNING,
    )
    def after_source(context: RunStatusSensorContext):  # type: ignore[no-untyped-def]
        succeeded.append(context.run.run_id)
        if context.run.selection == ("source",):  # a follow-up only for source's runs
            return RunRequest(run_key=f"after-{context.run.run_id}")
        return None

    @run_failure_sensor(minimum_interval_seconds=1, default_status=RUNNING)
    def page_on_call(context: RunStatusSensorContext) -> None:
        errors = [s.error.message for s in context.failed_steps() if s.error is not None]
        failed.append((context.run.run_id, errors))

    defs = Definitions(assets=[source, report, broken], sensors=[after_source, page_on_call])
    daemon = stepped(defs)
    event_clock.set(datetime(2024, 3, 1, 12, tzinfo=UTC))
    early = materialize(defs, "source", storage=storage)  # before the sensors' first tick
    daemon.step(seconds=5)  # the first tick starts from now: history is not replayed
    assert succeeded == [] and failed == []

    # Two runs ending at the same instant are both reported, each once.
    first = materialize(defs, "source", storage=storage)
    second = materialize(defs, "source", storage=storage)
    bad = materialize(defs, "broken", storage=storage, raise_on_error=False)
    assert storage.get_run(bad.run_id).status is RunStatus.FAILURE
    (follow_up_1, follow_up_2) = daemon.step(seconds=5).launched
    assert sorted(succeeded) == sorted([first.run_id, second.run_id])
    assert early.run_id not in succeeded
    assert failed == [(bad.run_id, [failed[0][1][0]])]
    assert "upstream API returned 503" in failed[0][1][0]
    assert count(storage, "report") == 2

    # The follow-up runs succeed too, are reported once, and request nothing more.
    daemon.step(seconds=5)
    assert Counter(succeeded) == {
        first.run_id: 1,
        second.run_id: 1,
        follow_up_1: 1,
        follow_up_2: 1,
    }
    for _ in range(3):
        assert daemon.step(seconds=5).launched == []
    assert len(succeeded) == 4 and len(failed) == 1
    assert count(storage, "report") == 2
