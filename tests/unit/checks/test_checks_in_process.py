"""Asset checks on the in-process executor: blocking, warnings, raising checks, storage."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

import raystra
from raystra import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    Definitions,
    DuplicateKeyError,
    InvalidDefinitionError,
    StaticPartitionsDefinition,
    UnknownAssetError,
    asset,
    asset_check,
)
from raystra.api._launch import run_plan
from raystra.events import AssetCheckEvaluated, StepSkipped
from raystra.planning import build_check_plan
from raystra.storage import RunStorage, open_storage


@asset
def orders() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "amount": [10.0, None, 30.0]})


@asset
def revenue(orders: pa.Table) -> float:
    return float(pa.compute.sum(orders.column("amount")).as_py())


@asset
def customers() -> list[str]:
    return ["ann", "bob"]


@pytest.fixture(autouse=True)
def _close_storages() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


_OPENED: list[RunStorage] = []


def _stored() -> RunStorage:
    storage = open_storage()
    _OPENED.append(storage)
    return storage


def _checks(result: raystra.RunResult) -> dict[str, AssetCheckEvaluated]:
    return {e.check_name: e for e in result.events if isinstance(e, AssetCheckEvaluated)}


def _skipped(result: raystra.RunResult) -> set[str]:
    return {e.step_key for e in result.events if isinstance(e, StepSkipped)}


def test_a_failed_blocking_check_skips_downstream_and_fails_the_run() -> None:
    @asset_check(asset=orders, blocking=True)
    def enough_rows(orders: pa.Table) -> AssetCheckResult:
        return AssetCheckResult(
            passed=orders.num_rows >= 10,
            metadata={"rows": orders.num_rows},
            description="needs 10 rows",
        )

    defs = Definitions([orders, revenue, customers], asset_checks=[enough_rows])
    result = raystra.materialize(defs, raise_on_error=False)

    assert result.status.value == "FAILURE"
    assert _skipped(result) == {"revenue"}
    assert {m.asset_key for m in result.materializations} == {
        AssetKey("orders"),
        AssetKey("customers"),
    }
    check = _checks(result)["enough_rows"]
    assert not check.passed and check.blocks and check.metadata == {"rows": 3}
    (failed,) = result.failed_steps
    assert failed.step_key == "orders:enough_rows"
    assert "Blocking check 'enough_rows' of asset 'orders' failed" in failed.error.message
    (stored,) = _stored().get_check_results(AssetKey("orders"))
    assert (stored.check_name, stored.passed, stored.blocking) == ("enough_rows", False, True)
    assert stored.description == "needs 10 rows" and stored.run_id == result.run_id


def test_the_run_raises_naming_the_check_by_default() -> None:
    @asset_check(asset="orders", blocking=True)
    def never(orders: pa.Table) -> AssetCheckResult:
        return AssetCheckResult(passed=False)

    defs = Definitions([orders, revenue], asset_checks=[never])
    with pytest.raises(raystra.StepExecutionError, match="orders:never"):
        raystra.materialize(defs)


def test_warn_and_non_blocking_failures_do_not_block() -> None:
    @asset_check(asset=orders, blocking=True)
    def warn_only(orders: pa.Table) -> AssetCheckResult:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN)

    @asset_check(asset=orders)
    def not_blocking(orders: pa.Table) -> AssetCheckResult:
        return AssetCheckResult(passed=False)

    defs = Definitions([orders, revenue], asset_checks=[warn_only, not_blocking])
    result = raystra.materialize(defs)

    assert result.success and _skipped(result) == set()
    assert result.output_for("revenue") == 40.0
    checks = _checks(result)
    assert (checks["warn_only"].passed, checks["warn_only"].severity) == (False, "WARN")
    assert (checks["not_blocking"].passed, checks["not_blocking"].blocks) == (False, False)


def test_a_raising_check_is_a_failed_error_with_its_traceback() -> None:
    @asset_check(asset=orders)
    def explodes(orders: pa.Table) -> AssetCheckResult:
        raise ValueError(f"cannot read column 'price' of {orders.num_rows} rows")

    @asset_check(asset=orders, blocking=True)
    def explodes_blocking(context: raystra.AssetExecutionContext, orders: pa.Table) -> bool:
        context.log.info("checking %s", context.asset_key.to_user_string())
        raise KeyError("price")

    defs = Definitions([orders, revenue], asset_checks=[explodes, explodes_blocking])
    result = raystra.materialize(defs, raise_on_error=False)

    checks = _checks(result)
    raised = checks["explodes"]
    assert not raised.passed and raised.severity == "ERROR"
    assert raised.error is not None and "cannot read column 'price' of 3 rows" in (
        raised.error.traceback
    )
    assert "ValueError" in (raised.description or "")
    (failed,) = result.failed_steps
    assert failed.step_key == "orders:explodes_blocking"
    assert "KeyError" in failed.error.traceback
    assert _skipped(result) == {"revenue"}
    logs = [e.message for e in result.events if e.kind == "LogMessage"]
    assert "checking orders" in logs


def test_a_check_may_return_a_bool_but_not_anything_else() -> None:
    @asset_check(asset=orders)
    def as_bool(orders: pa.Table) -> bool:
        return orders.num_rows == 3

    @asset_check(asset=orders)
    def wrong_type(orders: pa.Table) -> int:
        return 1

    defs = Definitions([orders], asset_checks=[as_bool, wrong_type])
    checks = _checks(raystra.materialize(defs))
    assert checks["as_bool"].passed
    assert not checks["wrong_type"].passed
    assert "return AssetCheckResult(passed=" in (checks["wrong_type"].description or "")


def test_checks_stored_per_partition_and_a_failed_partition_blocks_only_its_own() -> None:
    colors = StaticPartitionsDefinition(["red", "green", "blue"])

    @asset(partitions_def=colors)
    def paint(context: raystra.AssetExecutionContext) -> pa.Table:
        rows = 0 if context.partition_key == "green" else 2
        return pa.table({"color": [context.partition_key] * rows})

    @asset(partitions_def=colors)
    def wall(paint: pa.Table) -> int:
        return paint.num_rows

    defs = Definitions(
        [paint, wall], asset_checks=[raystra.row_count_check(paint, min_rows=1, blocking=True)]
    )
    result = raystra.materialize(defs, partition_range="red...blue", raise_on_error=False)

    assert result.status.value == "FAILURE"
    assert _skipped(result) == {"wall[green]"}
    walls = {m.partition for m in result.materializations if m.asset_key == AssetKey("wall")}
    assert walls == {"red", "blue"}
    latest = _stored().latest_check_results([AssetKey("paint")])[AssetKey("paint")]
    by_partition = {r.partition: r.passed for r in latest}
    assert by_partition == {"blue": True, "green": False, "red": True}
    assert {r.check_name for r in latest} == {"paint_row_count"}


def test_reexecuting_a_failed_check_runs_its_asset_again() -> None:
    state = {"rows": 0}

    @asset
    def events() -> pa.Table:
        return pa.table({"id": list(range(state["rows"]))})

    @asset
    def summary(events: pa.Table) -> int:
        return events.num_rows

    defs = Definitions(
        [events, summary], asset_checks=[raystra.row_count_check(events, min_rows=1, blocking=True)]
    )
    first = raystra.materialize(defs, raise_on_error=False)
    assert not first.success
    state["rows"] = 2
    again = raystra.reexecute(defs, first.run_id)
    assert again.success and again.output_for("summary") == 2
    assert _checks(again)["events_row_count"].passed


def test_definitions_validate_checks() -> None:
    @asset_check(asset="order")
    def typo(orders: pa.Table) -> bool:
        return True

    with pytest.raises(UnknownAssetError, match=r"'typo' checks asset 'order'.*'orders'"):
        Definitions([orders], asset_checks=[typo])

    @asset_check(asset=orders, name="same")
    def first(orders: pa.Table) -> bool:
        return True

    @asset_check(asset=orders, name="same")
    def second(orders: pa.Table) -> bool:
        return True

    with pytest.raises(DuplicateKeyError, match=r"'orders' has two checks named 'same'"):
        Definitions([orders], asset_checks=[first, second])
    with pytest.raises(InvalidDefinitionError, match=r"asset_checks=.*@asset_check"):
        Definitions([orders], asset_checks=[lambda orders: True])  # type: ignore[list-item]
    external = raystra.AssetSpec("vendor_feed")
    with pytest.raises(InvalidDefinitionError, match="external AssetSpec"):
        Definitions([external], asset_checks=[raystra.row_count_check("vendor_feed", min_rows=1)])
    defs = Definitions([orders], asset_checks=[first])
    assert defs.checks_for(AssetKey("orders")) == (first,)
    assert defs.get_asset_check("orders:same") is first


def test_selecting_an_asset_plans_its_checks() -> None:
    check = raystra.row_count_check(orders, min_rows=1)
    defs = Definitions([orders, revenue], asset_checks=[check])
    result = raystra.materialize(defs, selection="orders")
    assert result.plan.step_keys == ("orders", "orders:orders_row_count")
    result = raystra.materialize(defs, selection="revenue")
    assert result.plan.step_keys == ("revenue",)


def test_checks_alone_read_the_stored_value() -> None:
    colors = StaticPartitionsDefinition(["red", "green"])

    @asset(partitions_def=colors)
    def paint(context: raystra.AssetExecutionContext) -> pa.Table:
        return pa.table({"color": [context.partition_key] * (context.partition_key == "red")})

    not_empty = raystra.row_count_check(orders, min_rows=1)
    painted = raystra.row_count_check(paint, min_rows=1)
    defs = Definitions([orders, paint], asset_checks=[not_empty, painted])
    raystra.materialize(defs, selection="orders")
    raystra.materialize(defs, selection="paint", partition_range="red...green")

    plan = build_check_plan(defs, ["orders:orders_row_count"])
    result = run_plan(defs, plan)
    assert result.plan.step_keys == ("orders:orders_row_count",)
    (check,) = _checks(result).values()
    assert check.passed and check.metadata["row_count"] == 3 and check.target_step_key is None

    plan = build_check_plan(defs, ["paint:paint_row_count"], partition_keys=["red", "green"])
    result = run_plan(defs, plan)
    by_partition = {
        e.partition: e.passed for e in result.events if isinstance(e, AssetCheckEvaluated)
    }
    assert by_partition == {"red": True, "green": False}
    with pytest.raises(raystra.errors.SelectionError, match="'paint' is partitioned"):
        build_check_plan(defs, ["paint:paint_row_count"])
    with pytest.raises(UnknownAssetError, match="orders:orders_row_count"):
        build_check_plan(defs, ["orders:orders_row_cnt"])


def test_checks_of_an_asset_that_stores_no_value() -> None:
    @asset
    def warehouse_table() -> raystra.MaterializeResult:
        return raystra.MaterializeResult(metadata={"rows": 0})

    @asset_check(asset=warehouse_table)
    def rows_recorded(context: raystra.AssetExecutionContext) -> bool:
        return context.asset_key == AssetKey("warehouse_table")

    @asset_check(asset=warehouse_table)
    def reads_value(warehouse_table: pa.Table) -> bool:
        return warehouse_table.num_rows > 0

    defs = Definitions([warehouse_table], asset_checks=[rows_recorded, reads_value])
    result = raystra.materialize(defs)
    checks = _checks(result)
    assert checks["rows_recorded"].passed
    # Nothing was stored to read: the check fails, naming the asset, and the run goes on.
    assert not checks["reads_value"].passed
    assert "asset 'warehouse_table' has no stored value" in (
        checks["reads_value"].description or ""
    )
