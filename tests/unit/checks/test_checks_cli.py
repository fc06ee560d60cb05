"""``raystra materialize`` runs checks; ``assets status`` and ``runs show`` show their results
and freshness."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from raystra.cli.main import app

PROJECT = """
import pyarrow as pa

import raystra
from raystra import AssetCheckResult, Definitions, FreshnessPolicy, asset, asset_check

DAYS = raystra.StaticPartitionsDefinition(["mon", "tue", "wed"])


@asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=60))
def orders() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "amount": [10.0, None, 30.0]})


@asset
def revenue(orders: pa.Table) -> float:
    return 40.0


@asset(partitions_def=DAYS)
def visits(context: raystra.AssetExecutionContext) -> pa.Table:
    rows = 0 if context.partition_key == "tue" else 5
    return pa.table({"n": list(range(rows))})


@asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=30))
def never_built() -> int:
    return 1


@asset_check(asset=orders, blocking=True, description="amounts are all present")
def amounts_present(orders: pa.Table) -> AssetCheckResult:
    nulls = orders.column("amount").null_count
    return AssetCheckResult(passed=nulls == 0, metadata={"nulls": nulls})


@asset_check(asset=orders)
def ids_unique(orders: pa.Table) -> bool:
    return len(set(orders.column("id").to_pylist())) == orders.num_rows


defs = Definitions(
    [orders, revenue, visits, never_built],
    asset_checks=[
        amounts_present,
        ids_unique,
        raystra.row_count_check(visits, min_rows=1, severity="WARN"),
    ],
)
"""


@pytest.fixture(autouse=True)
def _isolated_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("COLUMNS", "220")
    yield
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def defs_file(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "defs.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(PROJECT))
    return path


def cli(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], prog_name="raystra")


def test_materialize_runs_checks_and_status_shows_them_with_freshness(defs_file: Path) -> None:
    failed = cli("materialize", "-f", defs_file, "--select", "orders+")
    assert failed.exit_code != 0
    assert "orders:amounts_present" in failed.output
    assert "revenue" in failed.output
    (run_id,) = set(re.findall(r"Run ([0-9a-f-]{36})", failed.output))
    partitioned = cli("materialize", "-f", defs_file, "--select", "visits", "--partition", "tue")
    assert partitioned.exit_code == 0, partitioned.output

    status = cli("assets", "status", "-f", defs_file)
    assert status.exit_code == 0, status.output
    out = status.output
    assert "checks" in out and "freshness" in out
    orders_row = next(line for line in out.splitlines() if line.startswith("│ orders"))
    assert "1 passed, 1 failed" in orders_row and "fresh" in orders_row
    assert "check failed: amounts_present (ERROR)" in out
    visits_row = next(line for line in out.splitlines() if line.startswith("│ visits"))
    assert "0 passed, 1 failed" in visits_row
    assert "check failed: visits_row_count (WARN, partitions tue)" in out
    never_row = next(line for line in out.splitlines() if line.startswith("│ never_built"))
    assert "overdue" in never_row
    assert "late against maximum lag 30 min; never materialized" in out

    shown = cli("runs", "show", run_id)
    assert shown.exit_code == 0, shown.output
    assert "Asset checks" in shown.output
    checks_table = shown.output.split("Asset checks")[1]
    check_lines = [line for line in checks_table.splitlines() if "orders:" in line]
    blocked = next(line for line in check_lines if "amounts_present" in line)
    assert "blocked" in blocked and "ERROR blocking" in blocked and "nulls=1" in blocked
    unique = next(line for line in check_lines if "ids_unique" in line)
    assert "passed" in unique
