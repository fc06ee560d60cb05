"""A partitioned backfill as one Ray DAG: partitions in parallel, per-partition failure, resume."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest

import raystra
from raystra import (
    AssetIn,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    PartitionRequest,
    TimeWindowPartitionMapping,
    asset,
)
from raystra.api import resume_backfill
from raystra.storage import open_storage

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("on_ray")]

DAYS = DailyPartitionsDefinition(start_date="2024-02-01", end_date="2024-02-11")  # 10 days
# Names the day to fail. A file, not an env var: Ray workers keep the environment they started
# with, but they share the file system.
FLAG = Path(tempfile.gettempdir()) / f"raystra-test-fail-day-{os.getuid()}"


def _fail_day() -> str | None:
    return FLAG.read_text() if FLAG.exists() else None


@asset(partitions_def=DAYS)
def events(context: raystra.AssetExecutionContext) -> pa.Table:
    if context.partition_key == _fail_day():
        raise RuntimeError(f"no events for {context.partition_key}")
    return pa.table({"pid": [os.getpid()], "day": [context.partition_key]})


@asset(
    partitions_def=DAYS,
    ins={
        "events": AssetIn(
            partition_mapping=TimeWindowPartitionMapping(
                start_offset=-1, allow_nonexistent_upstream_partitions=True
            )
        )
    },
)
def two_day(events: pa.Table) -> int:
    return events.num_rows


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=5))
def batched(context: raystra.AssetExecutionContext, two_day: dict[str, int]) -> dict[str, int]:
    return {day: two_day[day] for day in context.partition_keys}


@asset
def total(two_day: dict[str, int]) -> int:
    return sum(two_day.values())


def _defs() -> Definitions:
    return Definitions([events, two_day, batched, total])


def test_backfill_of_all_partitions_runs_as_one_ray_run() -> None:
    result = raystra.backfill(_defs(), "*", partitions=PartitionRequest(all=True))

    assert result.success, result.record
    assert len(result.run.plan.steps) == 10 + 10 + 2 + 1
    assert result.record.counts == {"materialized": 31}
    assert raystra.load_asset_value(_defs(), "total") == 19  # day 1 reads one day, others two


def test_failed_partition_is_isolated_and_resume_runs_only_the_rest() -> None:
    FLAG.write_text("2024-02-05")
    try:
        first = raystra.backfill(_defs(), "events two_day", partitions=PartitionRequest(all=True))
    finally:
        FLAG.unlink()

    statuses = open_storage().backfill_target_statuses(first.backfill_id)
    assert first.record.status == "FAILED"
    assert statuses[("events", "2024-02-05")] == "failed"
    assert [p for (a, p), s in sorted(statuses.items()) if a == "two_day" and s == "skipped"] == [
        "2024-02-05",
        "2024-02-06",
    ]

    resumed = resume_backfill(_defs(), first.backfill_id)
    assert resumed.success
    assert sorted(s.key for s in resumed.run.plan.steps) == [
        "events[2024-02-05]",
        "two_day[2024-02-05]",
        "two_day[2024-02-06]",
    ]


def test_backfill_under_a_concurrency_limit_submits_each_step_once() -> None:
    result = raystra.backfill(
        _defs(), "events two_day", partitions=PartitionRequest(all=True), max_concurrent=3
    )

    assert result.success
    assert result.record.counts == {"materialized": 20}
