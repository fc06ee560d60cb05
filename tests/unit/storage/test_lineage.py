"""`raystra.lineage` over real runs (in-process executor, SQLite under a fresh RAYSTRA_HOME).

The project: ``daily_sales`` (14 days), ``weekly_sales`` (one week, reading its 7 days) and
``sales_report`` (unpartitioned, reads the week).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import raystra
from raystra import (
    AssetKey,
    DailyPartitionsDefinition,
    Definitions,
    PartitionKeyError,
    PartitionRequest,
    RaystraError,
    UnknownAssetError,
    WeeklyPartitionsDefinition,
    asset,
)
from raystra.api import asset_partition_status
from raystra.storage import open_storage

DAILY = DailyPartitionsDefinition(start_date="2024-01-07", end_date="2024-01-21")
WEEKLY = WeeklyPartitionsDefinition(start_date="2024-01-07", end_date="2024-01-14")
FIRST_WEEK = [f"2024-01-{day:02d}" for day in range(7, 14)]


@asset(partitions_def=DAILY, code_version="3")
def daily_sales(context: raystra.AssetExecutionContext) -> pa.Table:
    return pa.table({"day": [context.partition_key], "amount": [10]})


@asset(partitions_def=WEEKLY)
def weekly_sales(daily_sales: pa.Table) -> pa.Table:
    return pa.table({"days": [daily_sales.num_rows]})


@asset
def sales_report(weekly_sales: pa.Table) -> int:
    return weekly_sales.num_rows


DEFS = Definitions([daily_sales, weekly_sales, sales_report])


def _run(selection: str, **partitions: str) -> str:
    result = raystra.materialize(DEFS, selection, executor="in_process", **partitions)
    assert result.success
    return result.run_id


@pytest.fixture
def first_week() -> dict[str, str]:
    """The first week's days in two runs, then the week and the report: run ids by name."""
    days_1_4 = _run("daily_sales", partition_range="2024-01-07...2024-01-10")
    days_5_7 = _run("daily_sales", partition_range="2024-01-11...2024-01-13")
    # One run: on its own, the report would not find the week's stored partitions (an
    # unpartitioned asset run alone reads its partitioned input as unpartitioned).
    week = raystra.backfill(
        DEFS, "weekly_sales sales_report", partitions=PartitionRequest(all=True)
    )
    assert week.success
    return {"days_1_4": days_1_4, "days_5_7": days_5_7, "week": week.run.run_id}


def test_a_week_lists_the_seven_daily_materializations_it_read_with_their_runs(
    first_week: dict[str, str],
) -> None:
    tree = raystra.lineage("weekly_sales", "2024-01-07")

    [week] = tree.partitions
    assert (week.label, week.run_id) == ("weekly_sales[2024-01-07]", first_week["week"])
    assert week.materialization is not None and week.materialization.timestamp > 0
    assert [child.partition for child in week.children] == FIRST_WEEK
    assert [child.run_id for child in week.children] == [first_week["days_1_4"]] * 4 + [
        first_week["days_5_7"]
    ] * 3
    assert week.total_children == 7 and week.hidden_children == 0
    # Each input is the materialization the run recorded: its own data and code version.
    stored = {m.partition: m for m in open_storage().get_materializations(AssetKey("daily_sales"))}
    for child in week.children:
        assert child.materialization is not None
        assert child.materialization.storage_id == stored[child.partition].storage_id
        assert child.materialization.code_version == "3"
        assert child.data_version == child.materialization.data_version is not None
        assert not child.superseded and child.total_children == 0  # days read nothing
    assert week.superseded_inputs == 0 and not week.stale


def test_rematerializing_an_upstream_partition_shows_the_consumed_version_as_superseded(
    first_week: dict[str, str],
) -> None:
    before = raystra.lineage("weekly_sales", "2024-01-07").partitions[0].children[2]

    again = _run("daily_sales", partition_key="2024-01-09")

    [week] = raystra.lineage("weekly_sales", "2024-01-07").partitions
    consumed = week.children[2]
    assert consumed.partition == "2024-01-09"
    # Still the version the week read, not the new one...
    assert (consumed.run_id, consumed.data_version) == (first_week["days_1_4"], before.data_version)
    # ...marked superseded by the new materialization, which makes the week stale.
    assert consumed.superseded and consumed.latest is not None
    assert consumed.latest.run_id == again
    assert consumed.latest.data_version != consumed.data_version
    assert [c.partition for c in week.children if c.superseded] == ["2024-01-09"]
    assert week.superseded_inputs == 1 and week.stale
    # The same verdict as `raystra assets status`.
    status = asset_partition_status(DEFS, AssetKey("weekly_sales"), open_storage())
    assert status.keys["stale"] == ["2024-01-07"]
    assert status.stale_because["2024-01-07"] == ["daily_sales[2024-01-09]"]


def test_downstream_follows_what_read_a_materialization_and_stops_at_its_replacement(
    first_week: dict[str, str],
) -> None:
    tree = raystra.lineage("daily_sales", "2024-01-09", direction="downstream", depth=2)

    [day] = tree.partitions
    [week] = day.children
    assert (week.label, week.run_id) == ("weekly_sales[2024-01-07]", first_week["week"])
    [report] = week.children
    assert (report.label, report.run_id) == ("sales_report", first_week["week"])

    _run("daily_sales", partition_key="2024-01-09")
    [new_day] = raystra.lineage("daily_sales", "2024-01-09", direction="downstream").partitions
    assert new_day.run_id != day.run_id
    assert new_day.children == () and new_day.total_children == 0  # nothing read it yet


def test_depth_limits_the_walk_and_counts_what_lies_beyond(first_week: dict[str, str]) -> None:
    shallow = raystra.lineage("sales_report", depth=0).partitions[0]
    assert shallow.children == () and shallow.total_children == 1

    [report] = raystra.lineage("sales_report", depth=2).partitions
    [week] = report.children
    assert len(week.children) == 7
    assert all(day.total_children == 0 for day in week.children)  # days read nothing
    [week_only] = raystra.lineage("sales_report", depth=1).partitions[0].children
    assert week_only.children == () and week_only.total_children == 7


def test_limit_and_offset_page_through_partitions_newest_key_first() -> None:
    _run("daily_sales", partition_range="2024-01-07...2024-01-20")

    first = raystra.lineage("daily_sales", limit=5)
    second = raystra.lineage("daily_sales", limit=5, offset=5)

    assert first.total_partitions == 14 and first.more_partitions == 9
    assert [n.partition for n in first.partitions] == [f"2024-01-{d}" for d in range(20, 15, -1)]
    assert [n.partition for n in second.partitions] == [f"2024-01-{d}" for d in range(15, 10, -1)]
    assert second.more_partitions == 4


def test_limit_caps_the_inputs_shown_and_counts_the_rest(first_week: dict[str, str]) -> None:
    [week] = raystra.lineage("weekly_sales", "2024-01-07", limit=3).partitions

    assert [child.partition for child in week.children] == FIRST_WEEK[:3]
    assert (week.total_children, week.hidden_children) == (7, 4)


def test_json_form_holds_the_whole_tree(first_week: dict[str, str]) -> None:
    tree = raystra.lineage("weekly_sales", "2024-01-07")

    data = json.loads(json.dumps(tree.to_dict()))

    [week] = data["partitions"]
    assert week["run_id"] == first_week["week"]
    assert [c["partition"] for c in week["children"]] == FIRST_WEEK
    assert week["children"][0]["materialization"]["code_version"] == "3"
    assert data["direction"] == "upstream" and data["total_partitions"] == 1


def test_an_unknown_asset_names_the_nearest_recorded_keys(first_week: dict[str, str]) -> None:
    with pytest.raises(
        UnknownAssetError, match=r"'weekly_sale'.*Nearest asset keys: 'weekly_sales'"
    ):
        raystra.lineage("weekly_sale")


def test_an_asset_like_no_other_lists_the_recorded_keys(first_week: dict[str, str]) -> None:
    with pytest.raises(UnknownAssetError) as caught:
        raystra.lineage("zzz")
    message = str(caught.value)
    assert "Known asset keys include: 'daily_sales', 'sales_report', 'weekly_sales'" in message
    assert "raystra materialize --select zzz" in message


def test_an_unknown_asset_names_the_nearest_defined_keys() -> None:
    with pytest.raises(UnknownAssetError, match=r"No asset 'daily_sale' is defined.*'daily_sales'"):
        raystra.lineage("daily_sale", definitions=DEFS)


def test_a_defined_asset_never_materialized_says_how_to_materialize_it() -> None:
    with pytest.raises(
        RaystraError,
        match=r"never been materialized.*raystra materialize --select weekly_sales "
        r"--partition 2024-01-07",
    ):
        raystra.lineage("weekly_sales", "2024-01-07", definitions=DEFS)


def test_a_partition_never_materialized_names_the_nearest_that_were(
    first_week: dict[str, str],
) -> None:
    with pytest.raises(PartitionKeyError) as caught:
        raystra.lineage("daily_sales", "2024-01-15")
    message = str(caught.value)
    assert "'2024-01-15' of asset 'daily_sales' has no recorded materialization" in message
    assert "7 partition(s)" in message and "'2024-01-13'" in message
    assert "raystra materialize --select daily_sales --partition 2024-01-15" in message
    assert "raystra lineage daily_sales" in message


def test_a_key_that_is_no_partition_at_all_is_reported_against_the_definitions(
    first_week: dict[str, str],
) -> None:
    with pytest.raises(PartitionKeyError, match=r"Nearest valid keys: '2024-01-07'"):
        raystra.lineage("weekly_sales", "2024-01-08", definitions=DEFS)


def test_a_partition_of_an_unpartitioned_asset_is_refused(first_week: dict[str, str]) -> None:
    with pytest.raises(PartitionKeyError, match="'sales_report' is not partitioned"):
        raystra.lineage("sales_report", "2024-01-07")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"direction": "sideways"}, "direction 'sideways'"),
        ({"depth": -1}, "depth must be at least 0"),
        ({"limit": 0}, "limit must be at least 1"),
    ],
)
def test_invalid_arguments_say_what_is_allowed(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(RaystraError, match=message):
        raystra.lineage("daily_sales", **arguments)  # type: ignore[arg-type]
