"""``raystra lineage``: the recorded provenance of asset partitions, as a tree or JSON.

The project: ``daily_sales`` (two weeks of days), ``weekly_sales`` (one week, reading its 7
days) and ``sales_report`` (unpartitioned, reads the week).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_testing import Invoke, write

from raystra.api import list_runs

DEFS = """
import pyarrow as pa

from raystra import DailyPartitionsDefinition, Definitions, WeeklyPartitionsDefinition, asset

DAILY = DailyPartitionsDefinition(start_date="2024-01-07", end_date="2024-01-21")
WEEKLY = WeeklyPartitionsDefinition(start_date="2024-01-07", end_date="2024-01-14")


@asset(partitions_def=DAILY, code_version="3")
def daily_sales(context) -> pa.Table:
    return pa.table({"day": [context.partition_key], "amount": [10]})


@asset(partitions_def=WEEKLY)
def weekly_sales(daily_sales: pa.Table) -> pa.Table:
    return pa.table({"days": [daily_sales.num_rows]})


@asset
def sales_report(weekly_sales: pa.Table) -> int:
    return weekly_sales.num_rows


defs = Definitions([daily_sales, weekly_sales, sales_report])
"""

DAYS = [f"2024-01-{day:02d}" for day in range(7, 14)]


@pytest.fixture
def sales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "200")  # one line per node, however long
    return write(tmp_path / "sales" / "defs.py", DEFS)


def _materialize(cli: Invoke, defs: Path, *args: str, command: str = "materialize") -> str:
    result = cli("-f", defs, command, *args)
    assert result.exit_code == 0, result.output
    return list_runs(limit=1)[0].run_id


@pytest.fixture
def runs(cli: Invoke, sales: Path) -> dict[str, str]:
    """The first week's days in two runs, then the week and the report: full run ids by name."""
    return {
        "days_1_4": _materialize(
            cli, sales, "-s", "daily_sales", "--partition-range", "2024-01-07...2024-01-10"
        ),
        "days_5_7": _materialize(
            cli, sales, "-s", "daily_sales", "--partition-range", "2024-01-11...2024-01-13"
        ),
        "week": _materialize(
            cli, sales, "-s", "weekly_sales sales_report", "--all", command="backfill"
        ),
    }


def _line(output: str, label: str) -> str:
    [line] = [line for line in output.splitlines() if f"{label}  " in line]
    return line


def test_lineage_shows_the_week_and_each_day_it_read_with_run_time_and_versions(
    cli: Invoke, runs: dict[str, str]
) -> None:
    result = cli("lineage", "weekly_sales", "--partition", "2024-01-07")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Upstream lineage of weekly_sales (1 level)")
    week = _line(result.output, "weekly_sales[2024-01-07]")
    assert f"run {runs['week'][:8]}" in week and "data " in week
    for index, day in enumerate(DAYS):
        line = _line(result.output, f"daily_sales[{day}]")
        run = runs["days_1_4"] if index < 4 else runs["days_5_7"]
        assert f"run {run[:8]}" in line and "code 3" in line and "data " in line
        assert line.lstrip().startswith(("├── ", "└── "))  # indented under the week
        assert "superseded" not in line
    assert "stale" not in result.output


def test_a_day_materialized_again_is_superseded_and_the_week_stale(
    cli: Invoke, sales: Path, runs: dict[str, str]
) -> None:
    again = _materialize(cli, sales, "-s", "daily_sales", "--partition", "2024-01-09")

    result = cli("lineage", "weekly_sales", "--partition", "2024-01-07")

    assert result.exit_code == 0, result.output
    assert "stale: 1 input superseded" in _line(result.output, "weekly_sales[2024-01-07]")
    day = _line(result.output, "daily_sales[2024-01-09]")
    assert f"run {runs['days_1_4'][:8]}" in day  # still the version the week read
    assert f"superseded by run {again[:8]}" in day
    assert "--stale-only" in result.output  # the legend says how to rebuild


def test_downstream_walks_from_a_day_to_the_week_and_the_report(
    cli: Invoke, runs: dict[str, str]
) -> None:
    result = cli(
        "lineage", "daily_sales", "--partition", "2024-01-08", "--downstream", "--depth", "2"
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Downstream lineage of daily_sales (2 levels)"
    assert lines[1].startswith(f"daily_sales[2024-01-08]  run {runs['days_1_4'][:8]}")
    assert lines[2].startswith(f"└── weekly_sales[2024-01-07]  run {runs['week'][:8]}")
    assert lines[3].startswith(f"    └── sales_report  run {runs['week'][:8]}")


def test_json_prints_the_tree_with_full_run_ids(cli: Invoke, runs: dict[str, str]) -> None:
    result = cli("lineage", "weekly_sales", "--partition", "2024-01-07", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [week] = data["partitions"]
    assert week["run_id"] == runs["week"]
    assert [child["partition"] for child in week["children"]] == DAYS
    assert {child["run_id"] for child in week["children"]} == {runs["days_1_4"], runs["days_5_7"]}
    assert week["children"][0]["materialization"]["metadata"]["row_count"] == 1


def test_limit_says_how_many_partitions_and_inputs_are_left_out(
    cli: Invoke, runs: dict[str, str]
) -> None:
    days = cli("lineage", "daily_sales", "--limit", "3")
    week = cli("lineage", "weekly_sales", "--limit", "3")

    assert days.exit_code == 0, days.output
    assert "3 of 7 materialized partitions, newest key first" in days.output
    roots = [line.split()[0] for line in days.output.splitlines() if line.startswith("daily")]
    assert roots == [
        "daily_sales[2024-01-13]",
        "daily_sales[2024-01-12]",
        "daily_sales[2024-01-11]",
    ]
    assert days.output.count("no recorded inputs") == 3  # days read nothing
    assert "... 4 more partition(s): page with --offset 3" in days.output
    assert "... 4 more inputs (show more with --limit N)" in week.output


def test_depth_zero_counts_the_inputs_it_does_not_show(cli: Invoke, runs: dict[str, str]) -> None:
    result = cli("lineage", "weekly_sales", "--depth", "0")

    assert result.exit_code == 0, result.output
    assert "... 7 inputs (raise --depth to see them)" in result.output
    assert "daily_sales[" not in result.output


def test_an_unknown_asset_names_the_nearest_keys(cli: Invoke, runs: dict[str, str]) -> None:
    result = cli("lineage", "weekly_sale")

    assert result.exit_code == 2
    assert "Nearest asset keys: 'weekly_sales'" in result.output


def test_an_asset_never_materialized_says_how_to_materialize_it(cli: Invoke, sales: Path) -> None:
    result = cli("lineage", "weekly_sales", "-f", sales)

    assert result.exit_code == 2
    assert "'weekly_sales' has never been materialized" in result.output
    assert "raystra materialize --select weekly_sales --partition KEY" in result.output


def test_an_unknown_partition_names_the_materialized_ones_and_how_to_list_them(
    cli: Invoke, runs: dict[str, str]
) -> None:
    result = cli("lineage", "daily_sales", "--partition", "2024-01-20")

    assert result.exit_code == 2
    assert "Partition '2024-01-20' of asset 'daily_sales' has no recorded materialization" in (
        result.output
    )
    assert "'2024-01-13'" in result.output and "raystra lineage daily_sales" in result.output


def test_a_key_outside_the_partitions_definition_is_reported_with_the_definitions(
    cli: Invoke, sales: Path, runs: dict[str, str]
) -> None:
    result = cli("-f", sales, "lineage", "weekly_sales", "--partition", "2024-01-09")

    assert result.exit_code == 2
    assert "Nearest valid keys: '2024-01-07'" in result.output
