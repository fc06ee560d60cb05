"""What an event looks like in the event log: its JSON payload, written and read back."""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest

from raystra import AssetKey
from raystra.events import (
    _EVENT_TYPES,
    AssetCheckEvaluated,
    AssetMaterialized,
    ErrorInfo,
    Event,
    LogMessage,
    OpOutputStored,
    OutputSchemaChecked,
    PartitionFailed,
    RunCanceled,
    RunFailed,
    RunStarted,
    RunSucceeded,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepSpans,
    StepStarted,
    StepSucceeded,
    event_from_dict,
    event_to_dict,
)
from raystra.storage._engine import dumps

ERROR = ErrorInfo(type_name="ValueError", message="bad row 3", traceback="Traceback ...")
ORDERS = AssetKey(["raw", "orders"])
ONE_OF_EACH: list[Event] = [
    RunStarted(run_id="r1", step_keys=("raw/orders", "report"), executor="ray"),
    RunSucceeded(run_id="r1"),
    RunFailed(run_id="r1", failed_step_keys=("report",), error=ERROR, reason="1 step failed"),
    RunCanceled(run_id="r1", reason="Ctrl-C"),
    StepStarted(run_id="r1", step_key="report", attempt=2, host="node-1", pid=41),
    StepSucceeded(run_id="r1", step_key="report", attempt=2, duration_s=0.25),
    StepRetrying(run_id="r1", step_key="report", attempt=1, error=ERROR, delay_s=1.5),
    StepFailed(run_id="r1", step_key="report", attempt=3, error=ERROR, host="node-1", pid=41),
    StepSkipped(run_id="r1", step_key="report", reason="upstream", upstream_step_keys=("a",)),
    AssetMaterialized(
        run_id="r1",
        step_key="raw/orders",
        asset_key=ORDERS,
        partition="2024-01-01",
        metadata={"rows": 3, "path": "s3://bucket/é.parquet", "columns": ["id", "amount"]},
        code_version="v2",
        data_version="abc123",
        consumed=({"asset_key": "raw/customers", "partition": None},),
    ),
    PartitionFailed(
        run_id="r1", step_key="raw/orders", asset_key=ORDERS, partition="2024-01-02", reason="x"
    ),
    OpOutputStored(run_id="r1", step_key="load", output_name="result", metadata={"n": 1}),
    OutputSchemaChecked(
        run_id="r1",
        step_key="raw/orders",
        output_name="result",
        asset_key=ORDERS,
        passed=False,
        mismatches=({"column": "amount", "problem": "missing"},),
    ),
    AssetCheckEvaluated(
        run_id="r1",
        step_key="raw/orders",
        asset_key=ORDERS,
        check_name="no_nulls",
        passed=False,
        metadata={"null_rows": 2},
        error=ERROR,
    ),
    LogMessage(run_id="r1", step_key="report", message="hello", level="WARNING"),
]


def test_the_samples_cover_every_stored_event_type() -> None:
    stored = {cls for cls in _EVENT_TYPES.values() if cls.stored}
    assert {type(event) for event in ONE_OF_EACH} == stored
    assert StepSpans not in stored


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda event: event.kind)
def test_payload_names_the_kind_then_every_field_in_order(event: Event) -> None:
    payload = event_to_dict(event)
    assert list(payload) == ["kind", *(f.name for f in dataclasses.fields(event))]
    assert payload["kind"] == event.kind


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda event: event.kind)
def test_an_event_reads_back_equal_from_its_stored_json(event: Event) -> None:
    text = dumps(event_to_dict(event))
    assert event_from_dict(json.loads(text)) == event


def test_asset_keys_and_errors_are_stored_as_plain_json() -> None:
    payload = json.loads(dumps(event_to_dict(ONE_OF_EACH[9])))
    assert payload["asset_key"] == "raw/orders"
    assert json.loads(dumps(event_to_dict(ONE_OF_EACH[2])))["error"] == {
        "type_name": "ValueError",
        "message": "bad row 3",
        "traceback": "Traceback ...",
    }


def test_json_is_compact_and_keeps_unicode() -> None:
    assert dumps({"path": "é", "n": [1, 2.5, None, True]}) == '{"path":"é","n":[1,2.5,null,true]}'


def test_non_string_keys_become_strings_as_with_the_json_module() -> None:
    keys = {1: "a", 2.5: "b", None: "c", False: "d"}
    assert dumps(keys) == json.dumps(keys, separators=(",", ":"))


def test_integers_beyond_64_bits_are_kept_exactly() -> None:
    assert json.loads(dumps({"big": 2**80})) == {"big": 2**80}


def test_nan_and_infinity_are_stored_as_null_json_has_no_such_numbers() -> None:
    assert json.loads(dumps({"mean": float("nan"), "max": float("inf")})) == {
        "mean": None,
        "max": None,
    }


@pytest.mark.parametrize(
    "value",
    [datetime.datetime(2024, 1, 1), ERROR, {1, 2}, object()],
    ids=["datetime", "dataclass", "set", "object"],
)
def test_values_json_cannot_hold_are_refused_with_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"value": value})
