"""The definition side of asset checks: the decorator, results and their validation."""

from __future__ import annotations

import pytest

from raystra import InvalidDefinitionError, asset
from raystra.definitions._asset_check import AssetCheckResult, AssetCheckSeverity, asset_check


@asset
def orders() -> list[int]:
    return [1, 2]


def test_check_of_an_asset_definition_takes_its_key_and_stays_callable() -> None:
    @asset_check(asset=orders, blocking=True, description="rows exist")
    def non_empty(context, orders: list[int]) -> AssetCheckResult:  # type: ignore[no-untyped-def]
        return AssetCheckResult(passed=bool(orders), metadata={"rows": len(orders)})

    assert non_empty.check_key == "orders:non_empty"
    assert (non_empty.value_param, non_empty.context_param) == ("orders", "context")
    assert non_empty.blocking and non_empty.description == "rows exist"
    result = non_empty(None, [])
    assert not result.passed and result.blocks and result.metadata == {"rows": 0}


def test_warn_results_do_not_block() -> None:
    result = AssetCheckResult(passed=False, severity="WARN")  # type: ignore[arg-type]
    assert result.severity is AssetCheckSeverity.WARN and not result.blocks


def test_bad_results_name_the_field() -> None:
    with pytest.raises(InvalidDefinitionError, match=r"passed=.*bool"):
        AssetCheckResult(passed=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidDefinitionError, match="severity"):
        AssetCheckResult(passed=True, severity="FATAL")  # type: ignore[arg-type]


def test_a_check_reads_one_value() -> None:
    with pytest.raises(InvalidDefinitionError, match=r"'two_inputs'.*one data parameter"):

        @asset_check(asset="orders")
        def two_inputs(orders: list[int], customers: list[int]) -> AssetCheckResult:
            return AssetCheckResult(passed=True)
