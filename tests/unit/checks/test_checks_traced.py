"""Asset check results in traces: a ``raystra.check`` span per result, linked to its asset step."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
from otlp_receiver import OtlpReceiver, otlp_receiver

import raystra
from raystra import AssetCheckResult, Definitions, asset, asset_check
from raystra.api import get_run


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.endpoint)
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        yield running


@asset
def orders() -> pa.Table:
    return pa.table({"id": [1, 2, 3]})


@asset_check(asset=orders, blocking=True)
def at_least_ten(orders: pa.Table) -> AssetCheckResult:
    return AssetCheckResult(passed=orders.num_rows >= 10, description="3 rows, wanted 10")


@asset_check(asset=orders)
def small_is_fine(orders: pa.Table) -> AssetCheckResult:
    return AssetCheckResult(passed=False, severity="WARN")  # type: ignore[arg-type]


def test_each_check_result_is_a_span_linked_to_its_asset_step(receiver: OtlpReceiver) -> None:
    defs = Definitions([orders], asset_checks=[at_least_ten, small_is_fine])
    result = raystra.materialize(defs, raise_on_error=False)
    trace_id = get_run(result.run_id).trace_id
    assert trace_id is not None
    spans = receiver.in_trace(trace_id)
    (run,) = [s for s in spans if s.name == "raystra.run"]
    (orders_step,) = [
        s
        for s in spans
        if s.name == "raystra.step" and s.attributes["raystra.step.key"] == "orders"
    ]
    checks = {s.attributes["raystra.check.name"]: s for s in spans if s.name == "raystra.check"}
    assert set(checks) == {"at_least_ten", "small_is_fine"}
    for span in checks.values():
        assert span.parent_span_id == run.span_id
        assert [link[1] for link in span.links] == [orders_step.span_id]
        assert span.attributes["raystra.asset.key"] == "orders"
        assert span.attributes["raystra.run.id"] == result.run_id
    failed = checks["at_least_ten"]
    assert failed.attributes["raystra.check.passed"] is False
    assert failed.attributes["raystra.check.severity"] == "ERROR"
    assert failed.is_error and "3 rows, wanted 10" in failed.status_message
    warned = checks["small_is_fine"]
    assert warned.attributes["raystra.check.severity"] == "WARN" and not warned.is_error
