"""Declared output schemas on the Ray executor: the check runs in the worker, before any write."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from raystra import asset, materialize
from raystra.events import AssetMaterialized, OutputSchemaChecked, RunStarted, StepSkipped

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("on_ray")]

ORDERS = pa.schema([pa.field("id", pa.int64(), nullable=False), ("amount", pa.float64())])


@asset(output_schema=ORDERS)
def good_orders() -> pa.Table:
    return pa.table({"id": [1, 2], "amount": [1.0, 2.5]})


@asset(output_schema=ORDERS)
def bad_orders() -> pa.Table:
    return pa.table({"id": [1, None], "amount": ["1.0", "2.5"]})


@asset
def order_total(bad_orders: pa.Table) -> int:
    return bad_orders.num_rows


def test_checks_run_in_the_worker_and_a_mismatch_stores_nothing(
    raystra_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every table output would be written by a separate persist task: the check must come first.
    monkeypatch.setenv("RAYSTRA_DEFER_WRITES_BYTES", "1")
    result = materialize([good_orders, bad_orders, order_total], raise_on_error=False)

    (started,) = [e for e in result.events if isinstance(e, RunStarted)]
    assert started.executor == "ray"
    checks = {e.step_key: e for e in result.events if isinstance(e, OutputSchemaChecked)}
    assert checks["good_orders"].passed
    assert not checks["bad_orders"].passed
    assert [m["column"] for m in checks["bad_orders"].mismatches] == ["id", "amount"]

    (failure,) = result.failed_steps
    assert failure.step_key == "bad_orders" and failure.error.type_name == "OutputSchemaError"
    assert "  amount  double          string" in failure.error.message
    assert [e.step_key for e in result.events if isinstance(e, StepSkipped)] == ["order_total"]

    materialized = {e.step_key for e in result.events if isinstance(e, AssetMaterialized)}
    assert materialized == {"good_orders"}
    assert (raystra_home / "storage" / "good_orders.parquet").exists()
    assert not (raystra_home / "storage" / "bad_orders.parquet").exists()
