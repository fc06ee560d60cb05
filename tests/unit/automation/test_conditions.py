"""Declarative automation: eager, on_cron and on_missing, evaluated by the daemon iteration.

Each test steps the clock by hand and runs the daemon's real iteration (conditions are
evaluated, run keys claimed, runs launched inline on the in-process executor), then checks
what was materialized and what the stored evaluation says.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

from raystra import (
    AssetCheckResult,
    AssetKey,
    AssetOut,
    AutomationCondition,
    DailyPartitionsDefinition,
    Definitions,
    StaticPartitionsDefinition,
    asset,
    asset_check,
    materialize,
    multi_asset,
)
from raystra.storage import RunStorage

LETTERS = StaticPartitionsDefinition(["x", "y", "z"])


def materializations(storage: RunStorage, name: str) -> Counter[str | None]:
    """How many times each partition of ``name`` was materialized."""
    return Counter(m.partition for m in storage.get_materializations(AssetKey(name), limit=1000))


def reason(storage: RunStorage, name: str) -> str:
    return storage.get_automation_evaluations()[name].reason


# -- eager ------------------------------------------------------------------------------------


@asset
def source() -> int:
    return 1


@asset(automation_condition=AutomationCondition.eager())
def follower(source: int) -> int:
    return source + 1


def test_eager_materializes_once_per_upstream_change(stepped, storage) -> None:
    defs = Definitions(assets=[source, follower])
    daemon = stepped(defs)
    assert daemon.step(minutes=1).launched == []
    assert "upstream source has no data" in reason(storage, "follower")

    materialize(defs, "source", storage=storage)
    assert len(daemon.step(minutes=1).launched) == 1  # missing, and its upstream has data
    assert materializations(storage, "follower") == {None: 1}
    assert daemon.step(minutes=1).launched == []  # no change: not again
    assert "up to date" in reason(storage, "follower")

    materialize(defs, "source", storage=storage)
    (run_id,) = daemon.step(minutes=1).launched
    assert storage.get_run(run_id).tags["raystra/automation"] == "true"
    assert materializations(storage, "follower") == {None: 2}
    assert daemon.step(minutes=1).launched == []
    assert daemon.step(minutes=1).launched == []
    assert materializations(storage, "follower") == {None: 2}
    assert storage.get_automation_evaluations()["follower"].condition == "eager()"


def test_eager_waits_while_the_upstream_run_is_in_progress(stepped, storage) -> None:
    started, release = threading.Event(), threading.Event()
    blocking = {"on": False}

    @asset(name="source")
    def slow_source() -> int:
        if blocking["on"]:
            started.set()
            assert release.wait(30), "the test never released the run"
        return 2

    defs = Definitions(assets=[slow_source, follower])
    daemon = stepped(defs)
    materialize(defs, "source", storage=storage)
    daemon.step(minutes=1)
    assert materializations(storage, "follower") == {None: 1}

    blocking["on"] = True
    run = threading.Thread(target=materialize, args=(defs, "source"), kwargs={"storage": storage})
    run.start()
    try:
        assert started.wait(30)
        # The upstream is being materialized again: the follower waits for the new data.
        assert daemon.step(minutes=1).launched == []
        assert "waiting for upstream source" in reason(storage, "follower")
    finally:
        release.set()
        run.join(30)
    assert len(daemon.step(minutes=1).launched) == 1
    assert materializations(storage, "follower") == {None: 2}
    assert daemon.step(minutes=1).launched == []


def test_eager_partitions_follow_their_own_upstream_partition(stepped, storage) -> None:
    @asset(partitions_def=LETTERS)
    def raw() -> int:
        return 1

    @asset(partitions_def=LETTERS, automation_condition=AutomationCondition.eager())
    def clean(raw: int) -> int:
        return raw

    defs = Definitions(assets=[raw, clean])
    daemon = stepped(defs)
    for letter in ("x", "y"):
        materialize(defs, "raw", partition_key=letter, storage=storage)
    # One run per partition; z has no upstream data yet.
    assert len(daemon.step(minutes=1).launched) == 2
    assert materializations(storage, "clean") == {"x": 1, "y": 1}
    assert daemon.step(minutes=1).launched == []

    materialize(defs, "raw", partition_key="x", storage=storage)
    assert len(daemon.step(minutes=1).launched) == 1
    assert materializations(storage, "clean") == {"x": 2, "y": 1}
    assert daemon.step(minutes=1).launched == []


# -- on_cron ----------------------------------------------------------------------------------


def test_on_cron_runs_once_per_tick_after_every_upstream_updated(
    stepped, storage, event_clock
) -> None:
    @asset(automation_condition=AutomationCondition.on_cron("0 * * * *"))
    def hourly_report(source: int) -> int:
        return source

    defs = Definitions(assets=[source, hourly_report])
    daemon = stepped(defs)
    clock = event_clock
    clock.set(datetime(2024, 3, 1, 11, 50, tzinfo=UTC))
    assert daemon.step().launched == []
    assert "waiting for source to update since the 2024-03-01T11:00:00+00:00 tick" in reason(
        storage, "hourly_report"
    )
    materialize(defs, "source", storage=storage)  # at 11:50, after the 11:00 tick
    # The newest tick (11:00) counts even though the daemon was not running then.
    assert len(daemon.step(minutes=1).launched) == 1
    assert daemon.step(minutes=5).launched == []  # same tick: once
    assert "materialized since the 2024-03-01T11:00:00+00:00 tick" in reason(
        storage, "hourly_report"
    )

    clock.set(datetime(2024, 3, 1, 12, 5, tzinfo=UTC))
    assert daemon.step().launched == []  # 12:00 passed, but source is from 11:50
    assert "waiting for source" in reason(storage, "hourly_report")
    clock.set(datetime(2024, 3, 1, 12, 20, tzinfo=UTC))
    materialize(defs, "source", storage=storage)
    materialize(defs, "source", storage=storage)  # two updates, still one run per tick
    assert len(daemon.step(minutes=1).launched) == 1
    assert daemon.step(minutes=10).launched == []
    assert materializations(storage, "hourly_report") == {None: 2}

    clock.set(datetime(2024, 3, 1, 15, 0, tzinfo=UTC))
    assert daemon.step().launched == []  # ticks without an upstream update run nothing
    assert materializations(storage, "hourly_report") == {None: 2}


def test_on_cron_without_upstream_runs_once_per_tick(stepped, storage, event_clock) -> None:
    @asset(automation_condition=AutomationCondition.on_cron("0 6 * * *", "Europe/Paris"))
    def morning() -> int:
        return 1

    daemon = stepped(Definitions(assets=[morning]))
    event_clock.set(datetime(2024, 3, 1, 4, 0, tzinfo=UTC))  # 05:00 in Paris
    assert len(daemon.step().launched) == 1  # for the tick of the day before
    assert daemon.step(hours=0.5).launched == []
    assert len(daemon.step(hours=1).launched) == 1  # 05:30 UTC: past 06:00 in Paris
    assert materializations(storage, "morning") == {None: 2}
    assert daemon.step(hours=6).launched == []
    assert daemon.step(hours=24).launched != []
    assert materializations(storage, "morning") == {None: 3}


# -- on_missing -------------------------------------------------------------------------------


def test_on_missing_materializes_each_missing_partition_once(stepped, storage) -> None:
    @asset(partitions_def=LETTERS)
    def raw() -> int:
        return 1

    @asset(partitions_def=LETTERS, automation_condition=AutomationCondition.on_missing())
    def clean(raw: int) -> int:
        return raw

    defs = Definitions(assets=[raw, clean])
    daemon = stepped(defs)
    assert daemon.step(minutes=1).launched == []
    for letter in ("x", "y"):
        materialize(defs, "raw", partition_key=letter, storage=storage)
    assert len(daemon.step(minutes=1).launched) == 2
    assert materializations(storage, "clean") == {"x": 1, "y": 1}
    assert daemon.step(minutes=1).launched == []

    # A new upstream materialization of x does not matter to on_missing: clean[x] exists.
    materialize(defs, "raw", partition_key="x", storage=storage)
    materialize(defs, "raw", partition_key="z", storage=storage)
    (run_id,) = daemon.step(minutes=1).launched
    assert storage.get_run(run_id).tags["raystra/run_key"] == "clean:on_missing:z:missing"
    assert daemon.step(minutes=1).launched == []
    assert materializations(storage, "clean") == {"x": 1, "y": 1, "z": 1}


def test_on_missing_time_partitions_consider_the_newest_closed_one(stepped, storage, clock) -> None:
    @asset(
        partitions_def=DailyPartitionsDefinition(start_date="2024-02-25"),
        automation_condition=AutomationCondition.on_missing(),
    )
    def daily() -> int:
        return 1

    daemon = stepped(Definitions(assets=[daily]))
    clock.set(datetime(2024, 3, 1, 12, tzinfo=UTC))
    assert len(daemon.step().launched) == 1
    # Only the day that just closed: older missing days are a backfill's job.
    assert materializations(storage, "daily") == {"2024-02-29": 1}
    assert daemon.step(hours=6).launched == []
    assert len(daemon.step(hours=12).launched) == 1
    assert materializations(storage, "daily") == {"2024-02-29": 1, "2024-03-01": 1}


def test_eager_retries_a_failed_first_materialization_after_the_next_upstream_change(
    stepped, storage
) -> None:
    attempts: list[int] = []

    @asset(name="follower", automation_condition=AutomationCondition.eager())
    def flaky_follower(source: int) -> int:
        attempts.append(source)
        if len(attempts) == 1:
            raise ValueError("warehouse timed out")
        return source

    defs = Definitions(assets=[source, flaky_follower])
    daemon = stepped(defs)
    materialize(defs, "source", storage=storage)
    (failed,) = daemon.step(minutes=1).launched
    assert storage.get_run(failed).status.value == "FAILURE"
    assert daemon.step(minutes=1).launched == []  # once per change, even when it failed
    assert materializations(storage, "follower") == {}

    materialize(defs, "source", storage=storage)  # new upstream data: try again
    assert len(daemon.step(minutes=1).launched) == 1
    assert materializations(storage, "follower") == {None: 1}
    assert daemon.step(minutes=1).launched == []


def test_a_multi_asset_run_in_progress_holds_back_what_reads_its_outputs(stepped, storage) -> None:
    started, release = threading.Event(), threading.Event()

    @multi_asset(outs={"left": AssetOut(), "right": AssetOut()})
    def split() -> tuple[int, int]:
        started.set()
        assert release.wait(30), "the test never released the run"
        return 1, 2

    @asset(automation_condition=AutomationCondition.on_missing())
    def uses_left(left: int) -> int:
        return left

    defs = Definitions(assets=[split, uses_left])
    daemon = stepped(defs)
    release.set()
    materialize(defs, "left, right", storage=storage)
    started.clear()
    release.clear()
    run = threading.Thread(
        target=materialize, args=(defs, "left, right"), kwargs={"storage": storage}
    )
    run.start()
    try:
        assert started.wait(30)
        # The run's step is "split", but it is materializing left: wait for its new data.
        assert daemon.step(minutes=1).launched == []
        assert "waiting for upstream left" in reason(storage, "uses_left")
    finally:
        release.set()
        run.join(30)
    assert len(daemon.step(minutes=1).launched) == 1
    assert materializations(storage, "uses_left") == {None: 1}


def test_conditions_hold_back_data_that_failed_a_blocking_check(stepped, storage) -> None:
    good = {"data": True}

    @asset(name="source")
    def checked_source() -> int:
        return 1 if good["data"] else -1

    @asset_check(asset="source", blocking=True)
    def positive(source: int) -> AssetCheckResult:
        return AssetCheckResult(passed=source > 0, description="must be positive")

    defs = Definitions(assets=[checked_source, follower], asset_checks=[positive])
    daemon = stepped(defs)
    materialize(defs, "source", storage=storage)
    assert len(daemon.step(minutes=1).launched) == 1
    assert materializations(storage, "follower") == {None: 1}

    good["data"] = False
    assert materialize(defs, "source", storage=storage, raise_on_error=False).success is False
    # The run stopped before downstream steps; the daemon must not undo that a moment later.
    assert daemon.step(minutes=1).launched == []
    assert "source failed blocking check positive" in reason(storage, "follower")
    assert materializations(storage, "follower") == {None: 1}

    good["data"] = True
    materialize(defs, "source", storage=storage)
    assert len(daemon.step(minutes=1).launched) == 1
    assert materializations(storage, "follower") == {None: 2}
