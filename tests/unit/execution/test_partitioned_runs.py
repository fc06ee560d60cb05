"""Partitioned assets end to end on the in-process executor: steps per partition, mappings,
ranges, failures per partition, lineage, staleness and backfill records."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import raystra
from raystra import (
    AllPartitionMapping,
    AssetIn,
    AssetKey,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    MultiPartitionsDefinition,
    PartitionKeyError,
    PartitionMappingError,
    PartitionRequest,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
)
from raystra.api import asset_partition_status, resume_backfill
from raystra.definitions import raystra_home
from raystra.errors import SelectionError
from raystra.storage import open_storage

DAILY = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-08")  # 7 days
FAIL_FLAG = "RAYSTRA_TEST_FAIL_DAY"


@asset(partitions_def=DAILY, code_version="1")
def orders(context: raystra.AssetExecutionContext) -> pa.Table:
    day = context.partition_key
    flag = raystra_home() / FAIL_FLAG
    if flag.exists() and flag.read_text() == day:
        raise ValueError(f"source for {day} unavailable")
    return pa.table({"day": [day] * 3, "amount": [1, 2, 3]})


@asset(
    partitions_def=DAILY,
    ins={
        "orders": AssetIn(
            partition_mapping=TimeWindowPartitionMapping(
                start_offset=-2, allow_nonexistent_upstream_partitions=True
            )
        )
    },
)
def rolling_3d(orders: pa.Table) -> int:
    return orders.num_rows


@asset
def all_days(orders: pa.Table) -> list[str]:
    return sorted(set(orders.column("partition").to_pylist()))


def _defs() -> Definitions:
    return Definitions([orders, rolling_3d, all_days])


def _all() -> PartitionRequest:
    return PartitionRequest(all=True)


def test_backfill_runs_one_step_per_partition_and_writes_a_hive_dataset() -> None:
    result = raystra.backfill(_defs(), "orders", partitions=_all())

    assert result.success
    assert len(result.run.plan.steps) == 7
    stored = raystra_home() / "storage" / "orders"
    dataset = ds.dataset(stored, format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert table.num_rows == 21
    assert sorted(set(table.column("partition").to_pylist())) == DAILY.get_partition_keys()


def test_rolling_window_reads_three_days_and_fan_in_reads_all() -> None:
    raystra.backfill(_defs(), "*", partitions=_all())

    defs = _defs()
    # Day 1 has no two days before it: the mapping reads what exists (rows of 1 day)...
    assert raystra.load_asset_value(defs, "all_days") == DAILY.get_partition_keys()
    status = asset_partition_status(defs, AssetKey("rolling_3d"), open_storage())
    assert status.counts == {"missing": 0, "fresh": 7, "stale": 0, "failed": 0}


def test_a_window_reaching_before_the_first_partition_is_refused_unless_allowed() -> None:
    @asset(
        name="rolling_3d",
        partitions_def=DAILY,
        ins={"orders": AssetIn(partition_mapping=TimeWindowPartitionMapping(start_offset=-2))},
    )
    def strict(orders: pa.Table) -> int:
        return orders.num_rows

    with pytest.raises(PartitionMappingError, match="allow_nonexistent_upstream_partitions"):
        raystra.backfill(Definitions([orders, strict]), "*", partitions=_all())


def test_a_failed_partition_skips_only_its_readers_and_resume_finishes(
    tmp_path: Path,
) -> None:
    (raystra_home() / FAIL_FLAG).parent.mkdir(parents=True, exist_ok=True)
    (raystra_home() / FAIL_FLAG).write_text("2024-01-04")

    first = raystra.backfill(_defs(), "*", partitions=_all())

    assert first.record.status == "FAILED"
    statuses = open_storage().backfill_target_statuses(first.backfill_id)
    assert statuses[("orders", "2024-01-04")] == "failed"
    assert statuses[("orders", "2024-01-05")] == "materialized"
    # Days 4, 5 and 6 read day 4 in their 3-day window; day 7 does not.
    skipped = {p for (a, p), s in statuses.items() if a == "rolling_3d" and s == "skipped"}
    assert skipped == {"2024-01-04", "2024-01-05", "2024-01-06"}
    assert statuses[("rolling_3d", "2024-01-07")] == "materialized"
    assert statuses[("all_days", None)] == "skipped"

    (raystra_home() / FAIL_FLAG).unlink()
    resumed = resume_backfill(_defs(), first.backfill_id)

    assert resumed.success
    assert sorted(step.key for step in resumed.run.plan.steps) == [
        "all_days",
        "orders[2024-01-04]",
        "rolling_3d[2024-01-04]",
        "rolling_3d[2024-01-05]",
        "rolling_3d[2024-01-06]",
    ]
    assert resumed.record.counts == {"materialized": 15}


def test_rematerializing_an_upstream_partition_makes_its_readers_stale() -> None:
    defs = _defs()
    raystra.backfill(defs, "*", partitions=_all())
    raystra.materialize(defs, "orders", partition_key="2024-01-03")

    status = asset_partition_status(defs, AssetKey("rolling_3d"), open_storage())

    assert status.keys["stale"] == ["2024-01-03", "2024-01-04", "2024-01-05"]
    assert status.stale_because["2024-01-04"] == ["orders[2024-01-03]"]
    assert asset_partition_status(defs, AssetKey("all_days"), open_storage()).keys["stale"] == [
        None
    ]
    rerun = raystra.materialize(defs, "rolling_3d all_days", stale_only=True)
    assert sorted(s.key for s in rerun.plan.steps) == [
        "all_days",
        "rolling_3d[2024-01-03]",
        "rolling_3d[2024-01-04]",
        "rolling_3d[2024-01-05]",
    ]
    after = asset_partition_status(defs, AssetKey("rolling_3d"), open_storage())
    assert after.counts["stale"] == 0


def test_a_code_version_change_makes_every_partition_stale() -> None:
    raystra.backfill(_defs(), "orders", partitions=_all())

    @asset(name="orders", partitions_def=DAILY, code_version="2")
    def orders_v2() -> pa.Table:
        return pa.table({"amount": [1]})

    defs = Definitions([orders_v2, rolling_3d, all_days])
    status = asset_partition_status(defs, AssetKey("orders"), open_storage())
    assert status.counts["stale"] == 7
    assert "code version '1' -> '2'" in status.stale_because["2024-01-01"][0]


def test_materializations_record_what_they_consumed() -> None:
    result = raystra.backfill(_defs(), "orders rolling_3d", partitions=_all())

    day5 = next(
        m
        for m in result.run.materializations
        if m.asset_key == AssetKey("rolling_3d") and m.partition == "2024-01-05"
    )
    assert [c["partition"] for c in day5.consumed] == ["2024-01-03", "2024-01-04", "2024-01-05"]
    assert {c["run_id"] for c in day5.consumed} == {result.run.run_id}
    assert all(c["data_version"] for c in day5.consumed)


def test_a_range_step_writes_each_partition_and_can_fail_one() -> None:
    @asset(partitions_def=DAILY, backfill_policy=BackfillPolicy.single_run())
    def batch(context: raystra.AssetExecutionContext) -> pa.Table:
        context.fail_partition("2024-01-02", "bad input file")
        days = context.partition_keys
        window = context.partition_time_window
        assert (window.end - window.start).days == 7
        return pa.table({"partition": days, "n": list(range(len(days)))})

    result = raystra.backfill(Definitions([batch]), "*", partitions=_all())

    assert len(result.run.plan.steps) == 1
    assert [m.partition for m in result.run.materializations] == [
        k for k in DAILY.get_partition_keys() if k != "2024-01-02"
    ]
    assert result.record.status == "FAILED"
    assert (
        open_storage().backfill_target_statuses(result.backfill_id)[("batch", "2024-01-02")]
        == "failed"
    )


def test_multi_partitions_with_three_dimensions_write_one_directory_per_dimension() -> None:
    multi = MultiPartitionsDefinition(
        {
            "date": DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-03"),
            "region": StaticPartitionsDefinition(["eu", "us"]),
            "tier": StaticPartitionsDefinition(["gold", "free"]),
        }
    )

    @asset(partitions_def=multi)
    def sales(context: raystra.AssetExecutionContext) -> pa.Table:
        dims = context.partition_key.keys_by_dimension
        return pa.table({"region": [dims["region"]], "n": [1]})

    result = raystra.backfill(Definitions([sales]), "*", partitions=_all())

    assert result.success and len(result.run.plan.steps) == 8
    table = ds.dataset(
        raystra_home() / "storage" / "sales", format="parquet", partitioning="hive"
    ).to_table()
    assert table.num_rows == 8
    assert set(table.column_names) == {"region", "n", "date", "tier"}
    assert sorted(set(table.column("tier").to_pylist())) == ["free", "gold"]


def test_partitioned_asset_without_a_partition_says_how_to_pick_one() -> None:
    with pytest.raises(PartitionKeyError, match="--partition"):
        raystra.materialize(_defs(), "orders")


def test_bad_keys_and_reversed_ranges_name_the_asset_and_format() -> None:
    with pytest.raises(PartitionKeyError) as err:
        raystra.materialize(_defs(), "orders", partition_key="2024-13-01")
    assert "'orders'" in str(err.value) and "%Y-%m-%d" in str(err.value)

    with pytest.raises(PartitionKeyError) as err:
        raystra.materialize(_defs(), "orders", partition_range="2024-01-05...2024-01-02")
    assert "backwards" in str(err.value) and "2024-01-02...2024-01-05" in str(err.value)

    with pytest.raises(SelectionError, match=r"FIRST\.\.\.LAST"):
        raystra.materialize(_defs(), "orders", partition_range="2024-01-05")


def test_mismatched_partitions_without_a_mapping_fail_when_definitions_are_built() -> None:
    colors = StaticPartitionsDefinition(["red", "blue"])

    @asset(partitions_def=colors)
    def painted(orders: pa.Table) -> pa.Table:
        return orders

    with pytest.raises(PartitionMappingError) as err:
        Definitions([orders, painted])
    message = str(err.value)
    assert "'painted'" in message and "partition_mapping=AllPartitionMapping()" in message
    Definitions(
        [
            orders,
            asset(
                name="painted",
                partitions_def=colors,
                ins={"orders": AssetIn(partition_mapping=AllPartitionMapping())},
            )(lambda orders: orders),
        ]
    )


@asset
def flaky_total() -> int:
    if (raystra_home() / FAIL_FLAG).exists():
        raise ValueError("warehouse unavailable")
    return 3


def test_failed_unpartitioned_asset_shows_failed_then_fresh_again() -> None:
    defs = Definitions([flaky_total])
    key = AssetKey("flaky_total")
    raystra.materialize(defs)
    assert asset_partition_status(defs, key, open_storage()).keys["fresh"] == [None]
    (raystra_home() / FAIL_FLAG).write_text("any")
    result = raystra.materialize(defs, raise_on_error=False)
    assert not result.success
    status = asset_partition_status(defs, key, open_storage())
    assert status.keys["failed"] == [None] and status.keys["missing"] == []
    (raystra_home() / FAIL_FLAG).unlink()
    raystra.materialize(defs)
    assert asset_partition_status(defs, key, open_storage()).keys["fresh"] == [None]


def test_an_unpartitioned_asset_reads_every_stored_partition_of_its_upstream() -> None:
    @asset(partitions_def=DAILY)
    def visits(context: raystra.AssetExecutionContext) -> pa.Table:
        return pa.table({"day": [context.partition_key]})

    @asset
    def visits_report(visits: pa.Table) -> int:
        return visits.num_rows

    defs = Definitions([visits, visits_report])
    raystra.backfill(defs, "visits", partitions=_all())
    # The report alone, in a later run: its input is all seven stored days, not one file.
    result = raystra.materialize(defs, "visits_report")
    assert result.output_for("visits_report") == 7
    (event,) = result.materializations
    assert len(event.consumed) == 7
