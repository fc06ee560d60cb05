"""Traces of in-process runs, exported for real: OTLP over HTTP and gRPC, console, off."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from otlp_receiver import OtlpReceiver, ReceivedSpan, attributes, otlp_receiver

from raystra import (
    DailyPartitionsDefinition,
    PartitionKeyRange,
    PartitionRequest,
    asset,
    materialize,
)
from raystra.api import backfill, get_run
from raystra.definitions import Definitions
from raystra.errors import RaystraError
from raystra.events import LogMessage


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.endpoint)
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")  # traces only, here
        yield running


def _defs() -> Definitions:
    @asset
    def orders() -> pa.Table:
        return pa.table({"id": [1, 2, 3]})

    @asset
    def report(context: Any, orders: pa.Table) -> int:
        context.log.info("report over %d orders", orders.num_rows)
        return orders.num_rows

    return Definitions([orders, report])


def _by_name(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.name == name]


def test_an_endpoint_alone_turns_tracing_on_over_http(receiver: OtlpReceiver) -> None:
    result = materialize(_defs())
    trace_id = get_run(result.run_id).trace_id
    assert trace_id is not None
    spans = receiver.in_trace(trace_id)
    (run,) = _by_name(spans, "raystra.run")
    steps = _by_name(spans, "raystra.step")
    assert {s.attributes["raystra.step.key"] for s in steps} == {"orders", "report"}
    assert all(s.parent_span_id == run.span_id for s in steps)
    assert run.resource["service.name"] == "raystra"  # the default without OTEL_SERVICE_NAME


def test_log_lines_carry_the_trace_and_step_span(receiver: OtlpReceiver) -> None:
    result = materialize(_defs())
    (line,) = [e for e in result.events if isinstance(e, LogMessage) and e.source == "log"]
    assert line.message == "report over 3 orders"
    spans = receiver.in_trace(line.trace_id)
    (report,) = [
        s for s in _by_name(spans, "raystra.step") if s.attributes["raystra.step.key"] == "report"
    ]
    assert line.span_id == report.span_id


def test_grpc_export(monkeypatch: pytest.MonkeyPatch) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received: list[trace_service_pb2.ExportTraceServiceRequest] = []
    arrived = threading.Event()

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            received.append(request)
            arrived.set()
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        result = materialize(_defs())
        assert arrived.wait(30)
    finally:
        server.stop(0)
    spans = [
        span
        for request in received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    run_ids = {
        attributes(span.attributes).get("raystra.run.id")
        for span in spans
        if span.name in ("raystra.run", "raystra.step")
    }
    assert run_ids == {result.run_id}
    assert {span.name for span in spans} >= {"raystra.run", "raystra.step", "raystra.compute"}


def test_console_exporter_writes_spans_to_stderr(tmp_path: Path) -> None:
    script = tmp_path / "pipeline.py"
    script.write_text(
        "import raystra\n"
        "@raystra.asset\n"
        "def one() -> int:\n"
        "    return 1\n"
        "defs = raystra.Definitions([one])\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    env["OTEL_TRACES_EXPORTER"] = "console"
    done = subprocess.run(
        [sys.executable, "-m", "raystra.cli", "materialize", "-f", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "raystra.run" not in done.stdout  # the CLI's own output stays clean
    assert '"name": "raystra.run"' in done.stderr


def test_off_by_default_costs_no_sdk_import(tmp_path: Path) -> None:
    code = (
        "import sys, raystra\n"
        "@raystra.asset\n"
        "def one() -> int:\n"
        "    return 1\n"
        "result = raystra.materialize([one], executor='in_process')\n"
        "from raystra.api import get_run\n"
        "assert get_run(result.run_id).trace_context is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_sdk_disabled_wins_over_an_endpoint(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    result = materialize(_defs())
    assert get_run(result.run_id).trace_context is None
    assert receiver.spans == []


def test_an_unknown_exporter_is_a_clear_error_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaegr")
    with pytest.raises(RaystraError, match=r"OTEL_TRACES_EXPORTER='jaegr'.*otlp, console or none"):
        materialize(_defs())
    from raystra.api import list_runs

    assert list_runs() == []


def test_a_backfill_span_links_the_runs_it_drove(receiver: OtlpReceiver) -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=daily)
    def events(context: Any) -> pa.Table:
        return pa.table({"day": [context.partition_key]})

    defs = Definitions([events])
    request = PartitionRequest(key_range=PartitionKeyRange("2024-01-01", "2024-01-03"))
    result = backfill(defs, partitions=request)
    receiver.wait_for(lambda: bool(_by_name(receiver.spans, "raystra.backfill")))
    (span,) = _by_name(receiver.spans, "raystra.backfill")
    assert span.attributes["raystra.backfill.id"] == result.backfill_id
    assert span.attributes["raystra.backfill.targets"] == 3
    (run_id,) = result.record.run_ids
    run_trace = get_run(run_id).trace_id
    (run_span,) = _by_name(receiver.in_trace(run_trace or ""), "raystra.run")
    assert span.links == [(run_trace, run_span.span_id, {"raystra.link": "run"})]
    assert run_span.attributes["raystra.backfill.id"] == result.backfill_id
    steps = _by_name(receiver.in_trace(run_trace or ""), "raystra.step")
    assert sorted(s.attributes["raystra.partition.key"] for s in steps) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]


def test_runs_logs_json_lines_carry_trace_ids(receiver: OtlpReceiver) -> None:
    from typer.testing import CliRunner

    from raystra.cli.main import app

    result = materialize(_defs())
    output = CliRunner().invoke(app, ["runs", "logs", result.run_id, "--json"])
    assert output.exit_code == 0, output.output
    (record,) = [json.loads(line) for line in output.output.splitlines()]
    assert record["message"] == "report over 3 orders"
    assert record["trace_id"] == get_run(result.run_id).trace_id
    assert len(record["span_id"]) == 16
