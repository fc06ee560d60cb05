"""Partitions on the command line: materialize a partition, backfill, resume, cancel, status.

The project: ``raw`` (daily, 5 days; a day fails while a ``fail-DAY`` file exists), ``rolling``
(daily, reads the day before too), ``report`` (unpartitioned, reads every ``rolling`` partition)
and ``per_customer`` (dynamic partitions ``customers``).
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from cli_testing import Invoke, write
from rich.console import Console

from raystra.api import list_runs
from raystra.cli import _backfill_render

DEFS = """
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from raystra import (
    AssetIn,
    DailyPartitionsDefinition,
    Definitions,
    DynamicPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
)
from raystra.storage import open_storage

HERE = Path(__file__).parent
daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-06")
previous_day = TimeWindowPartitionMapping(
    start_offset=-1, allow_nonexistent_upstream_partitions=True
)


@asset(partitions_def=daily)
def raw(context) -> pa.Table:
    day = context.partition_key
    if (HERE / f"fail-{day}").exists():
        raise ValueError(f"the source for {day} is not ready")
    if (HERE / f"cancel-at-{day}").exists():
        # Cancel from another process, as a user would from a second terminal.
        backfill_id = open_storage().list_backfills(limit=1)[0].backfill_id
        subprocess.run(
            [sys.executable, "-m", "raystra.cli", "backfill", "cancel", backfill_id], check=True
        )
    return pa.table({"day": [day] * 3, "value": [1, 2, 3]})


@asset(partitions_def=daily, ins={"raw": AssetIn(partition_mapping=previous_day)})
def rolling(raw: pa.Table) -> pa.Table:
    return pa.table({"rows": [raw.num_rows]})


@asset
def report(rolling: pa.Table) -> int:
    return rolling.num_rows


@asset(partitions_def=DynamicPartitionsDefinition("customers"))
def per_customer(context) -> str:
    return context.partition_key.upper()


defs = Definitions([raw, rolling, report, per_customer])
"""

BACKFILL_ID = re.compile(r"Backfill ([0-9a-f]{12}) ")


@pytest.fixture
def defs_file(tmp_path: Path) -> Path:
    return write(tmp_path / "pipeline" / "partitioned_defs.py", DEFS)


def backfill_id(output: str) -> str:
    (found,) = set(BACKFILL_ID.findall(output))
    return found


def status_rows(output: str) -> dict[str, list[str]]:
    """``{asset: [partitions, missing, fresh, stale, failed, details]}`` from assets status."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if line.startswith("│") and cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


def test_backfill_a_range_then_list_and_status_show_it(cli: Invoke, defs_file: Path) -> None:
    result = cli(
        "backfill", "-f", defs_file, "--select", "raw", "--from", "2024-01-02", "--to", "2024-01-04"
    )
    assert result.exit_code == 0, result.output
    found = backfill_id(result.stdout)
    assert "started: 3 target(s) in 3 step(s)" in result.stdout
    assert "[3/3] raw[2024-01-04] SUCCESS" in result.stdout
    assert f"Backfill {found} COMPLETED in" in result.stdout
    assert "3 materialized of 3 target(s)" in result.stdout
    assert "resume" not in result.stdout

    listed = cli("backfill", "list")
    assert listed.exit_code == 0, listed.output
    (row,) = [line for line in listed.stdout.splitlines() if found in line]
    for text in ("COMPLETED", "raw", "2024-01-02...2024-01-04", "3 materialized"):
        assert text in row

    status = cli("backfill", "status", found[:6])
    assert status.exit_code == 0, status.output
    assert f"Backfill    {found}" in status.stdout
    assert "Targets     3: 3 materialized" in status.stdout
    assert re.search(r"│ raw\s+│\s+3 │", status.stdout)

    # The same through `backfill run`, and the global -f before the command.
    again = cli(
        "-f", defs_file, "backfill", "run", "-s", "raw", "--partitions", "2024-01-01,2024-01-05"
    )
    assert again.exit_code == 0, again.output
    assert "2 materialized of 2 target(s)" in again.stdout
    assert cli("backfill", "list").stdout.count("COMPLETED") == 2


def test_failed_partition_exits_1_and_resume_runs_only_what_is_left(
    cli: Invoke, defs_file: Path
) -> None:
    flag = defs_file.parent / "fail-2024-01-03"
    flag.touch()
    result = cli("backfill", "-f", defs_file, "-s", "raw+", "--all")
    assert result.exit_code == 1, result.output
    found = backfill_id(result.stdout)
    assert "started: 11 target(s)" in result.stdout
    assert "raw[2024-01-03] FAILURE  ValueError: the source for 2024-01-03 is not ready" in (
        result.stdout
    )
    assert f"Backfill {found} FAILED" in result.stdout
    assert "7 materialized, 1 failed, 3 skipped of 11 target(s)" in result.stdout
    assert f"4 target(s) left: raystra backfill resume {found}" in result.stdout

    status = cli("backfill", "status", found).stdout
    assert "Failed: raw[2024-01-03]" in status
    assert "Skipped: report, rolling[2024-01-03], rolling[2024-01-04]" in status
    assert re.search(r"│ rolling\s+│\s+3 │\s+- │\s+2 │", status)
    assert f"raystra backfill resume {found}" in status

    flag.unlink()
    resumed = cli("backfill", "resume", found[:8], "-f", defs_file)
    assert resumed.exit_code == 0, resumed.output
    assert "started: 4 target(s) in 4 step(s)" in resumed.stdout
    assert f"Backfill {found} COMPLETED" in resumed.stdout
    assert "11 materialized of 11 target(s)" in resumed.stdout
    assert "Targets     11: 11 materialized" in cli("backfill", "status", found).stdout

    done = cli("backfill", "resume", found, "-f", defs_file)
    assert done.exit_code == 2 and "nothing left to do" in done.stderr


def test_canceled_backfill_exits_1_and_resumes(cli: Invoke, defs_file: Path) -> None:
    (defs_file.parent / "cancel-at-2024-01-02").touch()
    result = cli("backfill", "-f", defs_file, "-s", "raw", "--all")
    assert result.exit_code == 1, result.output
    found = backfill_id(result.stdout)
    assert f"Backfill {found} CANCELED" in result.stdout
    assert "2 materialized, 3 canceled of 5 target(s)" in result.stdout
    assert "CANCELED" in cli("backfill", "list").stdout

    (defs_file.parent / "cancel-at-2024-01-02").unlink()
    resumed = cli("backfill", "resume", found, "-f", defs_file)
    assert resumed.exit_code == 0, resumed.output
    assert "5 materialized of 5 target(s)" in resumed.stdout
    finished = cli("backfill", "cancel", found)
    assert finished.exit_code == 0
    assert f"Backfill {found} already ended COMPLETED; nothing to cancel." in finished.stdout


def test_assets_status_counts_before_and_after(cli: Invoke, defs_file: Path) -> None:
    before = cli("assets", "status", "-f", defs_file)
    assert before.exit_code == 0, before.output
    rows = status_rows(before.stdout)
    assert rows["raw"][:5] == ["5", "5", "0", "0", "0"]
    assert rows["raw"][5] == "missing: 2024-01-01...2024-01-05"
    assert rows["report"][:5] == ["-", "1", "0", "0", "0"]
    assert rows["report"][5] == "missing"
    assert rows["per_customer"][5] == "no partitions yet"

    (defs_file.parent / "fail-2024-01-03").touch()
    cli("backfill", "-f", defs_file, "-s", "raw+", "--all")
    after = status_rows(cli("assets", "status", "-f", defs_file, "--select", "raw+").stdout)
    assert set(after) == {"raw", "rolling", "report"}
    assert after["raw"][:5] == ["5", "0", "4", "0", "1"]
    assert after["raw"][5] == "failed: 2024-01-03"
    assert after["rolling"][:5] == ["5", "2", "3", "0", "0"]
    assert after["rolling"][5] == "missing: 2024-01-03...2024-01-04"

    # --missing runs the failed and never-materialized ones, and nothing else.
    (defs_file.parent / "fail-2024-01-03").unlink()
    missing = cli("backfill", "-f", defs_file, "-s", "raw+", "--missing")
    assert missing.exit_code == 0, missing.output
    assert "4 materialized of 4 target(s)" in missing.stdout
    assert "(missing only)" in cli("backfill", "list").stdout
    final = status_rows(cli("assets", "status", "-f", defs_file).stdout)
    assert final["raw"][:5] == ["5", "0", "5", "0", "0"]
    assert final["report"][:5] == ["-", "0", "1", "0", "0"]


def test_materialize_partition_then_stale_only(cli: Invoke, defs_file: Path) -> None:
    assert cli("backfill", "-f", defs_file, "-s", "raw+", "--all").exit_code == 0
    one = cli("materialize", "-f", defs_file, "-s", "raw", "--partition", "2024-01-03")
    assert one.exit_code == 0, one.output
    assert "started: 1 step(s)" in one.stdout and "raw[2024-01-03] SUCCESS" in one.stdout

    rows = status_rows(cli("assets", "status", "-f", defs_file, "-s", "rolling").stdout)
    assert rows["rolling"][:5] == ["5", "0", "3", "2", "0"]
    assert "stale: 2024-01-03...2024-01-04" in rows["rolling"][5]
    stale_reason = cli("assets", "status", "-f", defs_file, "-s", "rolling").stdout
    assert "2024-01-04 stale because of: raw[2024-01-03]" in " ".join(stale_reason.split())

    stale = cli("materialize", "-f", defs_file, "-s", "rolling", "--stale-only")
    assert stale.exit_code == 0, stale.output
    assert "started: 2 step(s)" in stale.stdout
    assert "rolling[2024-01-03] SUCCESS" in stale.stdout
    assert "rolling[2024-01-04] SUCCESS" in stale.stdout
    assert status_rows(cli("assets", "status", "-f", defs_file, "-s", "rolling").stdout)["rolling"][
        :5
    ] == ["5", "0", "5", "0", "0"]
    runs_before = len(list_runs(limit=1000))
    nothing = cli("materialize", "-f", defs_file, "-s", "rolling", "--stale-only")
    assert nothing.exit_code == 0 and "Nothing is stale in the selection" in nothing.stdout
    assert len(list_runs(limit=1000)) == runs_before  # no empty run recorded

    ranged = cli(
        "materialize", "-f", defs_file, "-s", "raw", "--partition-range", "2024-01-01...2024-01-02"
    )
    assert ranged.exit_code == 0, ranged.output
    assert "started: 2 step(s)" in ranged.stdout


def test_dynamic_partitions_add_list_remove(
    cli: Invoke, defs_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = cli("partitions", "add", "customers", "acme", "globex", "-f", defs_file)
    assert added.exit_code == 0, added.output
    assert "Added 2 key(s) to dynamic partitions 'customers': acme, globex." in added.stdout
    again = cli("partitions", "add", "customers", "acme", "initech", "-f", defs_file)
    assert "Added 1 key(s)" in again.stdout and "Already there: acme." in again.stdout

    listed = cli("partitions", "list", "customers", "-f", defs_file)
    assert listed.stdout.splitlines()[1:] == ["acme", "globex", "initech"]
    run = cli("materialize", "-f", defs_file, "-s", "per_customer", "--partition", "globex")
    assert run.exit_code == 0 and "per_customer[globex] SUCCESS" in run.stdout

    unknown_key = cli("partitions", "remove", "customers", "globex", "umbrella", "-f", defs_file)
    assert unknown_key.exit_code == 2
    assert "has no key 'umbrella'" in unknown_key.stderr and "nothing was removed" in (
        unknown_key.stderr
    )
    removed = cli("partitions", "remove", "customers", "globex", "-f", defs_file)
    assert removed.exit_code == 0 and "It has 2 key(s) now." in removed.stdout

    typo = cli("partitions", "add", "custmers", "x", "-f", defs_file)
    assert typo.exit_code == 2
    assert "uses DynamicPartitionsDefinition('custmers')" in typo.stderr
    assert "'customers' (asset per_customer)" in typo.stderr
    bad_key = cli("partitions", "add", "customers", "a,b", "-f", defs_file)
    assert bad_key.exit_code == 2 and "contains ','" in bad_key.stderr

    # Without definitions to check against, the commands work on storage alone.
    monkeypatch.chdir(tmp_path)
    alone = cli("partitions", "list", "customers")
    assert alone.exit_code == 0, alone.output
    assert alone.stdout.splitlines()[1:] == ["acme", "initech"]


def test_bad_partitions_exit_2_naming_the_asset_and_format(cli: Invoke, defs_file: Path) -> None:
    bad_key = cli("backfill", "-f", defs_file, "-s", "raw", "--partitions", "2024-13-01")
    assert bad_key.exit_code == 2
    assert "Partition key '2024-13-01' for asset 'raw'" in bad_key.stderr
    assert "Expected format: %Y-%m-%d (e.g. '2024-01-01')" in bad_key.stderr
    assert "Traceback" not in bad_key.output

    backwards = cli(
        "backfill", "-f", defs_file, "-s", "raw", "--from", "2024-01-04", "--to", "2024-01-02"
    )
    assert backwards.exit_code == 2
    assert "Partition range for asset 'raw' runs backwards" in backwards.stderr

    wrong_format = cli("materialize", "-f", defs_file, "-s", "raw", "--partition", "01/02/2024")
    assert wrong_format.exit_code == 2
    assert "for asset 'raw'" in wrong_format.stderr and "%Y-%m-%d" in wrong_format.stderr
    no_partition = cli("materialize", "-f", defs_file, "-s", "raw")
    assert no_partition.exit_code == 2 and "--partition KEY" in no_partition.stderr
    bad_range = cli("materialize", "-f", defs_file, "-s", "raw", "--partition-range", "2024-01-01")
    assert bad_range.exit_code == 2 and "'FIRST...LAST'" in bad_range.stderr

    half = cli("backfill", "-f", defs_file, "-s", "raw", "--from", "2024-01-01")
    assert half.exit_code == 2 and "--from needs --to" in half.stderr
    unsaid = cli("backfill", "-f", defs_file, "-s", "raw")
    assert unsaid.exit_code == 2 and "--from A --to B" in unsaid.stderr
    both = cli("backfill", "-f", defs_file, "-s", "raw", "--all", "--missing", "--stale")
    assert both.exit_code == 2 and "--missing or --stale, not both" in both.stderr
    misplaced = cli("backfill", "-s", "raw", "list")
    assert misplaced.exit_code == 2 and "(--select) cannot go before `list`" in misplaced.stderr
    assert cli("backfill", "status", "nope").exit_code == 2

    listed = cli("backfill", "list")
    assert listed.exit_code == 0 and "No backfills yet" in listed.stdout


def test_terminal_shows_a_live_target_bar_with_eta(
    cli: Invoke, defs_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = StringIO()
    terminal = Console(file=screen, force_terminal=True, width=140)
    monkeypatch.setattr(_backfill_render, "output_console", lambda: terminal)
    (defs_file.parent / "fail-2024-01-05").touch()
    result = cli("backfill", "-f", defs_file, "-s", "raw+", "--all")
    assert result.exit_code == 1
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "11/11 targets" in drawn and "ETA" in drawn
    assert "1 failed, 2 skipped" in drawn  # rolling[2024-01-05] and report
    assert "raw[2024-01-05] FAILURE" in drawn  # failures print above the bar
    assert "8 materialized, 1 failed, 2 skipped of 11 target(s)" in drawn


BATCH_DEFS = """
import pyarrow as pa

from raystra import BackfillPolicy, DailyPartitionsDefinition, asset

daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-06")


@asset(partitions_def=daily, backfill_policy=BackfillPolicy.single_run())
def batch(context) -> pa.Table:
    context.fail_partition("2024-01-02", "bad input file")
    return pa.table({"partition": list(context.partition_keys)})


@asset(partitions_def=daily)
def per_day(batch: pa.Table) -> int:
    return batch.num_rows
"""


def test_one_step_over_a_range_counts_each_partition(cli: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path / "batch_defs.py", BATCH_DEFS)
    result = cli("backfill", "-f", path, "--from", "2024-01-01", "--to", "2024-01-04")
    assert result.exit_code == 1, result.output
    assert "started: 8 target(s) in 5 step(s)" in result.stdout
    assert "batch[2024-01-02] FAILURE  bad input file" in result.stdout
    assert "6 materialized, 1 failed, 1 skipped of 8 target(s)" in result.stdout
    assert "Partition batch[2024-01-02] failed: bad input file" in result.stdout
    found = backfill_id(result.stdout)
    status = cli("backfill", "status", found).stdout
    assert "Failed: batch[2024-01-02]" in status and "Skipped: per_day[2024-01-02]" in status
