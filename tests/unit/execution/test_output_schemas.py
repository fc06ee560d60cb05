"""Declared output schemas (in-process executor): checked before storing, recorded as events."""

from __future__ import annotations

import datetime
import enum
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import polars as pl
import pyarrow as pa
import pydantic
import pytest

import raystra
from raystra import (
    AssetOut,
    DailyPartitionsDefinition,
    Definitions,
    InvalidDefinitionError,
    OutputSchemaError,
    asset,
    load_asset_value,
    materialize,
    multi_asset,
)
from raystra.definitions._output_schema import model_to_arrow_schema
from raystra.events import OutputSchemaChecked, StepSkipped, event_from_dict, event_to_dict
from raystra.storage import open_storage

ORDERS = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("customer", pa.string()),
        pa.field("amount", pa.float64()),
    ]
)


class OrderRow(pydantic.BaseModel):
    id: int
    customer: str | None
    amount: float | None


def stored(home: Path, name: str) -> Path:
    return home / "storage" / f"{name}.parquet"


def checks(result: Any) -> list[OutputSchemaChecked]:
    return [e for e in result.events if isinstance(e, OutputSchemaChecked)]


# --- passing outputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: pa.table({"id": [1, 2], "customer": ["a", None], "amount": [1.5, 2.0]}),
        lambda: pa.table({"amount": [1.5], "id": [1], "customer": ["a"]}),  # order is free
        lambda: pd.DataFrame({"id": [1, 2], "customer": ["a", None], "amount": [1.5, 2.0]}),
        lambda: pl.DataFrame({"id": [1, 2], "customer": ["a", None], "amount": [1.5, 2.0]}),
    ],
    ids=["pyarrow", "pyarrow-reordered", "pandas", "polars"],
)
@pytest.mark.parametrize("declared", [ORDERS, OrderRow], ids=["pa.schema", "pydantic"])
def test_matching_outputs_are_stored_with_a_passing_event(
    make: Any, declared: Any, raystra_home: Path
) -> None:
    @asset(output_schema=declared)
    def orders() -> Any:
        return make()

    result = materialize([orders])

    assert result.success
    (check,) = checks(result)
    assert check.passed and check.mismatches == () and check.asset_key == orders.key
    assert stored(raystra_home, "orders").exists()
    kinds = [e.kind for e in result.events if getattr(e, "step_key", None) == "orders"]
    assert kinds.index("OutputSchemaChecked") < kinds.index("AssetMaterialized")


def test_representation_differences_are_not_mismatches() -> None:
    schema = pa.schema(
        [
            ("name", pa.string()),
            ("tags", pa.list_(pa.string())),
            ("at", pa.timestamp("us")),
            ("kind", pa.string()),
        ]
    )

    @asset(output_schema=schema)
    def events() -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "name": pd.Series(["a"], dtype="string[pyarrow]"),
                "tags": [["x"]],
                "at": pd.to_datetime(["2024-01-01"]),  # datetime64[ns] in pandas 2
                "kind": pd.Categorical(["k"]),  # dictionary-encoded
            }
        )
        return frame.set_index("name", drop=False)  # the index is not a column

    assert materialize([events]).success


def test_extra_columns_are_allowed_when_asked() -> None:
    @asset(output_schema=ORDERS, output_schema_extra="allow")
    def orders() -> pa.Table:
        return pa.table({"id": [1], "customer": ["a"], "amount": [1.0], "note": ["x"]})

    assert materialize([orders]).success


# --- mismatches ------------------------------------------------------------------------------


@asset(output_schema=ORDERS)
def bad_orders() -> pa.Table:
    return pa.table({"id": [1, None], "amount": pa.array([1, 2], pa.int32()), "note": ["x", "y"]})


@asset
def order_report(bad_orders: pa.Table) -> int:
    return bad_orders.num_rows


def test_mismatch_fails_the_step_stores_nothing_and_skips_downstream(raystra_home: Path) -> None:
    result = materialize([bad_orders, order_report], raise_on_error=False)

    assert not result.success
    (failure,) = result.failed_steps
    assert failure.step_key == "bad_orders"
    assert failure.error.type_name == OutputSchemaError.__name__
    assert not stored(raystra_home, "bad_orders").exists()
    assert [e.step_key for e in result.events if isinstance(e, StepSkipped)] == ["order_report"]

    (check,) = checks(result)
    assert not check.passed
    assert list(check.mismatches) == [
        {"column": "id", "expected": "int64 not null", "found": "int64 with 1 null"},
        {"column": "customer", "expected": "string", "found": "missing"},
        {"column": "amount", "expected": "double", "found": "int32"},
        {"column": "note", "expected": "not declared", "found": "string"},
    ]
    message = failure.error.message
    first_line = message.splitlines()[0]
    assert first_line.startswith("asset 'bad_orders' does not match its output_schema (")
    assert "customer: expected string, found missing" in first_line
    assert "and 1 more" in first_line
    assert "  column    expected        found" in message
    assert "  amount    double          int32" in message
    assert "Nothing was stored" in message
    assert "output_schema_extra='allow'" in message


def test_failed_check_keeps_the_previous_value(raystra_home: Path) -> None:
    @asset(output_schema=ORDERS, name="orders")
    def good() -> pa.Table:
        return pa.table({"id": [1], "customer": ["a"], "amount": [1.0]})

    @asset(output_schema=ORDERS, name="orders")
    def bad() -> pa.Table:
        return pa.table({"id": ["not an int"], "customer": ["a"], "amount": [1.0]})

    assert materialize([good]).success
    with pytest.raises(raystra.StepExecutionError):
        materialize([bad])
    assert load_asset_value(Definitions([good]), "orders").to_pydict()["id"] == [1]


def test_a_non_table_output_fails_its_declared_schema() -> None:
    @asset(output_schema=ORDERS)
    def orders() -> list[int]:
        return [1, 2]

    result = materialize([orders], raise_on_error=False)
    (check,) = checks(result)
    assert check.mismatches == (
        {"column": "(output)", "expected": "a table", "found": "a list, not a table"},
    )


def test_pydantic_row_model_checks_nullability_and_types() -> None:
    @asset(output_schema=OrderRow)
    def orders() -> pl.DataFrame:
        return pl.DataFrame({"id": [1, None], "customer": ["a", "b"], "amount": ["1", "2"]})

    result = materialize([orders], raise_on_error=False)
    (check,) = checks(result)
    assert list(check.mismatches) == [
        {"column": "id", "expected": "int64 not null", "found": "int64 with 1 null"},
        {"column": "amount", "expected": "double", "found": "large_string"},
    ]
    assert "vs its pydantic model OrderRow" in result.failed_steps[0].error.message


def test_multi_asset_checks_every_output_and_stores_none_on_failure(raystra_home: Path) -> None:
    @multi_asset(
        outs={
            "users": AssetOut(output_schema=pa.schema([("user_id", pa.int64())])),
            "orders": AssetOut(output_schema=ORDERS),
            "untyped": AssetOut(),
        }
    )
    def extract() -> tuple[pa.Table, pa.Table, int]:
        return pa.table({"user_id": [1]}), pa.table({"id": [1]}), 3

    result = materialize([extract], raise_on_error=False)

    assert not result.success
    by_asset = {c.asset_key.to_user_string(): c.passed for c in checks(result) if c.asset_key}
    assert by_asset == {"users": True, "orders": False}
    assert not stored(raystra_home, "users").exists()
    assert not stored(raystra_home, "untyped").exists()


def test_partitioned_check_names_the_partition(raystra_home: Path) -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-03")

    @asset(partitions_def=daily, output_schema=ORDERS)
    def orders(context: raystra.AssetExecutionContext) -> pa.Table:
        if context.partition_key == "2024-01-02":
            return pa.table({"id": [1]})
        return pa.table({"id": [1], "customer": ["a"], "amount": [1.0]})

    assert materialize([orders], partition_key="2024-01-01").success
    result = materialize([orders], partition_key="2024-01-02", raise_on_error=False)

    (check,) = checks(result)
    assert check.partition == "2024-01-02" and not check.passed
    message = result.failed_steps[0].error.message
    assert message.startswith("asset 'orders' partition '2024-01-02' does not match")
    assert not (raystra_home / "storage" / "orders" / "partition=2024-01-02").exists()


def test_range_step_checks_every_partition_before_storing_any(raystra_home: Path) -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")

    @asset(
        partitions_def=daily,
        output_schema=ORDERS,
        backfill_policy=raystra.BackfillPolicy.single_run(),
    )
    def orders(context: raystra.AssetExecutionContext) -> dict[str, pa.Table]:
        good = pa.table({"id": [1], "customer": ["a"], "amount": [1.0]})
        return {
            key: good if key != "2024-01-03" else good.drop_columns(["amount"])
            for key in context.partition_keys
        }

    result = materialize([orders], partition_range="2024-01-01...2024-01-03", raise_on_error=False)

    assert [(c.partition, c.passed) for c in checks(result)] == [
        ("2024-01-01", True),
        ("2024-01-02", True),
        ("2024-01-03", False),
    ]
    assert not (raystra_home / "storage" / "orders").exists()


def test_check_events_round_trip_through_run_storage() -> None:
    result = materialize([bad_orders], raise_on_error=False)
    storage = open_storage()
    (row,) = storage.get_events(result.run_id, kinds=[OutputSchemaChecked.kind])
    assert row.event == checks(result)[0]
    assert event_from_dict(event_to_dict(row.event)) == row.event


def test_check_failure_is_shown_by_the_cli_progress() -> None:
    from rich.console import Console

    from raystra.cli._progress import RunProgress

    console = Console(record=True, width=120, force_terminal=False)
    with RunProgress(console, live=False) as progress:
        materialize([bad_orders], raise_on_error=False, on_event=progress.on_event)
    text = console.export_text()
    assert "bad_orders: output_schema check failed" in text
    assert "  amount    double          int32" in text


def test_passing_checks_are_quiet_in_the_cli_progress() -> None:
    from rich.console import Console

    from raystra.cli._progress import RunProgress

    @asset(output_schema=ORDERS)
    def orders() -> pa.Table:
        return pa.table({"id": [1], "customer": ["a"], "amount": [1.0]})

    console = Console(record=True, width=120, force_terminal=False)
    with RunProgress(console, live=False) as progress:
        materialize([orders], on_event=progress.on_event)
    assert "output_schema" not in console.export_text()


# --- definition time ------------------------------------------------------------------------


class Inner(pydantic.BaseModel):
    x: int


class Color(enum.StrEnum):
    RED = "red"


class Everything(pydantic.BaseModel):
    s: str
    i: int
    f: float
    b: bool
    raw: bytes
    at: datetime.datetime
    day: datetime.date
    maybe: int | None
    tags: list[str]
    attrs: dict[str, float]
    inner: Inner
    color: Color
    level: Literal["low", "high"]


def test_pydantic_model_maps_to_an_arrow_schema() -> None:
    schema = model_to_arrow_schema(Everything, where="test")
    assert schema == pa.schema(
        [
            pa.field("s", pa.string(), nullable=False),
            pa.field("i", pa.int64(), nullable=False),
            pa.field("f", pa.float64(), nullable=False),
            pa.field("b", pa.bool_(), nullable=False),
            pa.field("raw", pa.binary(), nullable=False),
            pa.field("at", pa.timestamp("us"), nullable=False),
            pa.field("day", pa.date32(), nullable=False),
            pa.field("maybe", pa.int64()),
            pa.field("tags", pa.list_(pa.field("item", pa.string(), nullable=False)), False),
            pa.field("attrs", pa.map_(pa.string(), pa.field("value", pa.float64(), False)), False),
            pa.field("inner", pa.struct([pa.field("x", pa.int64(), nullable=False)]), False),
            pa.field("color", pa.string(), nullable=False),
            pa.field("level", pa.string(), nullable=False),
        ]
    )


@pytest.mark.parametrize(
    ("declared", "needle"),
    [
        ({"id": "int64"}, "must be a pyarrow schema"),
        ([("id", pa.int64())], "Wrap the fields in pa.schema"),
        (OrderRow(id=1, customer=None, amount=None), "Pass the class OrderRow, not an instance"),
        (dict, "must be a pyarrow schema"),
    ],
)
def test_declared_schema_must_be_a_schema_or_a_model(declared: Any, needle: str) -> None:
    with pytest.raises(InvalidDefinitionError, match="Asset 'orders': output_schema") as err:

        @asset(output_schema=declared)
        def orders() -> None: ...

    assert needle in str(err.value)


def test_unsupported_model_field_is_named_at_definition_time() -> None:
    class Nested(pydantic.BaseModel):
        price: Decimal

    class Row(pydantic.BaseModel):
        id: int
        item: Nested

    with pytest.raises(InvalidDefinitionError) as err:

        @multi_asset(outs={"rows": AssetOut(output_schema=Row)})
        def extract() -> None: ...

    message = str(err.value)
    assert "Output 'rows' of multi_asset 'extract'" in message
    assert "field 'item.price' is annotated Decimal" in message
    assert "declare a pyarrow schema" in message


def test_output_schema_extra_is_validated() -> None:
    with pytest.raises(InvalidDefinitionError, match="output_schema_extra must be 'forbid'"):

        @asset(output_schema=ORDERS, output_schema_extra="ignore")
        def orders() -> None: ...


class LazyFrame:
    """Stands in for a Spark/Dask frame: only its engine knows its schema."""

    def __init__(self, schema: pa.Schema | None) -> None:
        self.schema_for_engine = schema


class LazyEngine:
    name = "lazy"

    def handles_object(self, obj: object) -> bool:
        return isinstance(obj, LazyFrame)

    def arrow_schema(self, obj: LazyFrame) -> pa.Schema | None:
        return obj.schema_for_engine


@pytest.fixture
def lazy_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    from raystra.execution import _schema_check

    monkeypatch.setattr(_schema_check, "_engines", lambda: (LazyEngine(),))


@pytest.mark.usefixtures("lazy_engine")
@pytest.mark.parametrize(
    ("schema", "passed", "note"),
    [
        (ORDERS, True, "nulls not checked: lazy frames are lazy"),
        (pa.schema([("id", pa.int32())]), False, "nulls not checked: lazy frames are lazy"),
        (None, True, "not checked: the lazy engine cannot tell"),
    ],
)
def test_engine_frames_are_checked_through_the_engine_hook(
    schema: pa.Schema | None, passed: bool, note: str
) -> None:
    from raystra.execution._schema_check import check_output_schemas

    @asset(output_schema=ORDERS)
    def orders() -> None: ...

    record: list[Any] = []
    try:
        check_output_schemas(
            run_id="r",
            step_key="orders",
            outputs=[(orders.outputs[0], None, LazyFrame(schema))],
            record=record,
        )
    except OutputSchemaError:
        assert not passed
    (check,) = record
    assert (check.passed, check.note) == (passed, note)
