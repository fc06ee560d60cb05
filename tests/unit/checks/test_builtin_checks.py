"""Built-in checks on pyarrow, pandas and polars, and schema drift across two runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import raystra
from raystra import AssetKey, Definitions, InvalidDefinitionError, asset
from raystra.events import AssetCheckEvaluated

ROWS = {"id": [1, 2, 3, 4], "amount": [1.5, None, None, 4.0], "name": ["a", "b", "c", None]}

TABLES: dict[str, Callable[[], Any]] = {
    "pyarrow": lambda: pa.table(ROWS),
    "pandas": lambda: pd.DataFrame(ROWS),
    "polars": lambda: pl.DataFrame(ROWS),
}


@pytest.mark.parametrize("library", sorted(TABLES))
def test_row_count_bounds(library: str) -> None:
    table = TABLES[library]()
    assert raystra.row_count_check("t", min_rows=4, max_rows=4)(table).passed
    low = raystra.row_count_check("t", min_rows=5)(table)
    assert not low.passed and low.metadata["row_count"] == 4
    assert low.description == "4 rows; expected between 5 and any"
    high = raystra.row_count_check("t", max_rows=3, severity="WARN")(table)
    assert not high.passed and high.severity.value == "WARN"


@pytest.mark.parametrize("library", sorted(TABLES))
def test_null_fractions(library: str) -> None:
    table = TABLES[library]()
    result = raystra.null_fraction_check("t", max_fraction=0.25)(table)
    assert not result.passed
    assert result.metadata["null_fractions"] == {"id": 0.0, "amount": 0.5, "name": 0.25}
    assert result.metadata["failing_columns"] == ["amount"]
    assert result.description == "amount 50.0% null"
    assert raystra.null_fraction_check("t", columns=["id", "name"], max_fraction=0.25)(table).passed
    missing = raystra.null_fraction_check("t", columns=["price"])(table)
    assert not missing.passed and "column 'price' is missing" in (missing.description or "")


@pytest.mark.parametrize("library", sorted(TABLES))
def test_schema_against_an_expected_schema(library: str) -> None:
    table = TABLES[library]()
    seen = raystra.definitions._builtin_checks.table_schema(table)
    assert set(seen) == {"id", "amount", "name"} and seen["id"] == "int64"
    assert raystra.schema_drift_check("t", expected=seen)(None, table).passed
    drifted = raystra.schema_drift_check("t", expected={**seen, "id": "string", "price": "double"})(
        None, table
    )
    assert not drifted.passed
    assert drifted.metadata["changed"] == {"id": "string -> int64"}
    assert drifted.metadata["removed"] == ["price"] and drifted.metadata["added"] == []


def test_factories_refuse_bad_arguments_naming_them() -> None:
    with pytest.raises(InvalidDefinitionError, match="min_rows=, max_rows="):
        raystra.row_count_check("t")
    with pytest.raises(InvalidDefinitionError, match="min_rows=5 is above max_rows=1"):
        raystra.row_count_check("t", min_rows=5, max_rows=1)
    with pytest.raises(InvalidDefinitionError, match="max_fraction"):
        raystra.null_fraction_check("t", max_fraction=2)
    with pytest.raises(InvalidDefinitionError, match=r"columns=\['amount'\]"):
        raystra.null_fraction_check("t", columns="amount")
    with pytest.raises(InvalidDefinitionError, match="Arrow type names"):
        raystra.schema_drift_check("t", expected={"id": int})  # type: ignore[dict-item]
    with pytest.raises(InvalidDefinitionError, match="pyarrow Tables and pandas or polars"):
        raystra.row_count_check("t", min_rows=1)([1, 2])


def _run_with(fn: Callable[[], Any]) -> AssetCheckEvaluated:
    sales = asset(name="sales")(fn)
    defs = Definitions([sales], asset_checks=[raystra.schema_drift_check(sales)])
    result = raystra.materialize(defs)
    (check,) = [e for e in result.events if isinstance(e, AssetCheckEvaluated)]
    return check


@pytest.mark.parametrize("library", sorted(TABLES))
def test_schema_drift_across_two_runs(library: str) -> None:
    make = TABLES[library]

    def first() -> Any:
        return make()

    baseline = _run_with(first)
    assert baseline.passed and "baseline" in (baseline.description or "")
    assert _run_with(first).passed

    def second() -> Any:
        table = make()
        if library == "pyarrow":
            return table.drop_columns(["name"]).append_column("price", pa.array([1, 2, 3, 4]))
        if library == "pandas":
            return table.drop(columns=["name"]).assign(price=[1, 2, 3, 4])
        return table.drop("name").with_columns(pl.Series("price", [1, 2, 3, 4]))

    drifted = _run_with(second)
    assert not drifted.passed
    assert drifted.metadata["added"] == ["price"] and drifted.metadata["removed"] == ["name"]
    assert drifted.asset_key == AssetKey("sales")
    assert "drift from the previous materialization's schema" in (drifted.description or "")
