"""Asset checks on the Ray executor: each check is a Ray task after its asset's task."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

import raystra
from raystra import (
    AssetCheckResult,
    AssetKey,
    Definitions,
    StaticPartitionsDefinition,
    asset,
    asset_check,
)
from raystra.events import AssetCheckEvaluated, RunStarted, StepSkipped, StepStarted
from raystra.storage import open_storage

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("on_ray")]

REGIONS = StaticPartitionsDefinition(["north", "south"])


@asset(partitions_def=REGIONS)
def sales(context: raystra.AssetExecutionContext) -> pa.Table:
    amounts = [1.0, None, None] if context.partition_key == "south" else [1.0, 2.0, 3.0]
    return pa.table({"region": [context.partition_key] * 3, "amount": amounts})


@asset(partitions_def=REGIONS)
def sales_total(sales: pa.Table) -> float:
    return float(pa.compute.sum(sales.column("amount")).as_py())


@asset_check(asset=sales)
def raises_in_worker(sales: pa.Table) -> AssetCheckResult:
    raise RuntimeError(f"no column 'price' in {sales.column_names}")


@asset_check(asset=sales, blocking=True)
def has_rows(context: raystra.AssetExecutionContext, sales: pa.Table) -> AssetCheckResult:
    return AssetCheckResult(
        passed=sales.num_rows > 0, metadata={"pid_partition": context.partition_key}
    )


def test_blocking_checks_skip_only_the_failing_partitions_downstream(
    raystra_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Table outputs are written by separate persist tasks: checks read the handed-over value.
    monkeypatch.setenv("RAYSTRA_DEFER_WRITES_BYTES", "1")
    nulls = raystra.null_fraction_check(sales, columns=["amount"], max_fraction=0.1, blocking=True)
    defs = Definitions([sales, sales_total], asset_checks=[nulls, has_rows, raises_in_worker])
    result = raystra.materialize(defs, partition_range="north...south", raise_on_error=False)

    (started,) = [e for e in result.events if isinstance(e, RunStarted)]
    assert started.executor == "ray"
    assert result.status.value == "FAILURE"
    assert [e.step_key for e in result.events if isinstance(e, StepSkipped)] == [
        "sales_total[south]"
    ]
    totals = [
        m.partition for m in result.materializations if m.asset_key == AssetKey("sales_total")
    ]
    assert totals == ["north"]
    (failed,) = result.failed_steps
    assert failed.step_key == "sales:sales_null_fraction[south]"
    assert "amount 66.7% null" in failed.error.message

    checks = {
        (e.check_name, e.partition): e for e in result.events if isinstance(e, AssetCheckEvaluated)
    }
    assert checks[("has_rows", "north")].metadata == {"pid_partition": "north"}
    assert checks[("has_rows", "south")].passed
    raised = checks[("raises_in_worker", "north")]
    assert not raised.passed and raised.error is not None
    assert "no column 'price'" in raised.error.traceback
    # Each check ran as its own step, in a Ray worker process, not the driver.
    pids = {e.step_key: e.pid for e in result.events if isinstance(e, StepStarted)}
    assert pids["sales:has_rows[north]"] not in (0, os.getpid())

    storage = open_storage()
    try:
        latest = storage.latest_check_results([AssetKey("sales")])[AssetKey("sales")]
    finally:
        storage.close()
    summary = {(r.check_name, r.partition): r.passed for r in latest}
    assert summary == {
        ("has_rows", "north"): True,
        ("has_rows", "south"): True,
        ("raises_in_worker", "north"): False,
        ("raises_in_worker", "south"): False,
        ("sales_null_fraction", "north"): True,
        ("sales_null_fraction", "south"): False,
    }
