"""OpenTelemetry metrics of runs: instrument values from real runs, and export on the wire."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import raystra
from raystra import (
    DailyPartitionsDefinition,
    Definitions,
    PartitionRequest,
    RetryPolicy,
    asset,
)
from raystra.api._backfill import BACKFILL_TAG
from raystra.errors import RaystraError
from raystra.events import (
    Event,
    RunCanceled,
    RunStarted,
    RunStatus,
    StepStarted,
)
from raystra.observability import ObservedRun, configured_observers
from raystra.observability import _metrics as metrics
from raystra.observability._metrics import (
    MetricsObserver,
    metrics_enabled,
    metrics_observer,
    record_backfill_progress,
)

DAILY = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")  # 3 days


@asset
def orders() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "amount": [1.0, 2.0, 3.0]})


@asset
def order_count(orders: pa.Table) -> pa.Table:
    return pa.table({"n": [orders.num_rows]})


@asset(partitions_def=DAILY)
def daily(context: raystra.AssetExecutionContext) -> pa.Table:
    if context.partition_key == "2024-01-03":
        raise ValueError("no data for this day")
    return pa.table({"day": [context.partition_key] * 2})


DEFS = Definitions(assets=[orders, order_count, daily])


# -- helpers ---------------------------------------------------------------------------------


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Metric name -> its data points, from an in-memory reader."""
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    if data is None:
        return found
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def value_by(points: list[Any], attribute: str) -> dict[Any, Any]:
    return {p.attributes.get(attribute): p.value for p in points}


def observe_run(observer: MetricsObserver, result: raystra.RunResult, **run: Any) -> None:
    """Feed a finished run's events to ``observer``, as the driver does while it runs."""
    observer.run_started(
        ObservedRun(
            run_id=result.run_id,
            plan=result.plan,
            definitions=DEFS,
            executor=run.pop("executor", "in_process"),
            **run,
        )
    )
    for event in result.events:
        observer.observe(event)
    observer.run_finished(result.status)


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def observer(reader: InMemoryMetricReader) -> MetricsObserver:
    return MetricsObserver(MeterProvider(metric_readers=[reader]))


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, False),
        ({"OTEL_METRICS_EXPORTER": "otlp"}, True),
        ({"OTEL_METRICS_EXPORTER": "console"}, True),
        ({"OTEL_METRICS_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:4318/v1/metrics"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, False),
        ({"OTEL_METRICS_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "TRUE"}, False),
    ],
)
def test_metrics_follow_the_standard_otel_variables(environ: dict[str, str], enabled: bool) -> None:
    assert metrics_enabled(environ) is enabled
    if not enabled:
        assert metrics_observer(environ) is None


def test_an_unknown_exporter_or_protocol_is_a_clear_error() -> None:
    with pytest.raises(RaystraError, match=r"OTEL_METRICS_EXPORTER='prometheus'.*otlp, console"):
        metrics_enabled({"OTEL_METRICS_EXPORTER": "prometheus"})
    with pytest.raises(RaystraError, match="'http/json' is not supported for metrics"):
        metrics._exporter("otlp", {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/json"})


def test_otlp_protocol_is_http_by_default_and_grpc_on_request() -> None:
    http = metrics._exporter("otlp", {})
    both = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    grpc = metrics._exporter("otlp", {**both, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"})
    assert type(http).__module__.startswith("opentelemetry.exporter.otlp.proto.http")
    assert type(grpc).__module__.startswith("opentelemetry.exporter.otlp.proto.grpc")
    grpc.shutdown()


def test_metrics_off_imports_no_sdk() -> None:
    code = (
        "import sys\n"
        "from raystra.observability import configured_observers\n"
        "assert not configured_observers({}).observers\n"
        "loaded = [m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'openlineage'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_one_meter_provider_per_process_and_configuration() -> None:
    environ = {"OTEL_METRICS_EXPORTER": "none", "OTEL_SERVICE_NAME": "provider-reuse-test"}
    first = metrics.meter_provider_for(environ)
    assert metrics.meter_provider_for(dict(environ)) is first


# -- instrument values -----------------------------------------------------------------------


def test_step_durations_rows_bytes_and_runs_from_a_real_run(
    observer: MetricsObserver, reader: InMemoryMetricReader
) -> None:
    result = raystra.materialize(DEFS, ["orders", "order_count"], executor="in_process")
    observe_run(observer, result)

    found = points(reader)
    durations = found[metrics.STEP_DURATION]
    assert {p.attributes["raystra.asset.key"] for p in durations} == {"orders", "order_count"}
    for point in durations:
        assert point.count == 1
        assert point.sum > 0
        assert dict(point.attributes) == {
            "raystra.asset.key": point.attributes["raystra.asset.key"],
            "raystra.step.status": "success",
            "raystra.run.executor": "in_process",
        }
        assert point.explicit_bounds[0] == 0.005  # seconds, not the SDK's millisecond buckets

    materialized = {e.asset_key.to_user_string(): e.metadata for e in result.materializations}
    rows = value_by(found[metrics.ROWS_WRITTEN], "raystra.asset.key")
    assert rows == {"orders": 3, "order_count": 1}
    written = value_by(found[metrics.BYTES_WRITTEN], "raystra.asset.key")
    assert written == {key: meta["byte_size"] for key, meta in materialized.items()}
    assert all(b > 0 for b in written.values())

    runs = found[metrics.RUNS]
    assert [(dict(p.attributes), p.value) for p in runs] == [
        ({"raystra.run.status": "SUCCESS", "raystra.run.executor": "in_process"}, 1)
    ]


def test_no_run_ids_or_partition_keys_on_metrics(
    observer: MetricsObserver, reader: InMemoryMetricReader
) -> None:
    result = raystra.materialize(DEFS, ["daily"], executor="in_process", partition_key="2024-01-01")
    observe_run(observer, result)
    for name, data_points in points(reader).items():
        for point in data_points:
            for key, value in point.attributes.items():
                assert "run.id" not in key and "partition" not in key, (name, key)
                assert value not in (result.run_id, "2024-01-01"), (name, key)


def test_failed_and_retried_attempts_are_recorded_by_status(
    observer: MetricsObserver, reader: InMemoryMetricReader
) -> None:
    @asset(retry_policy=RetryPolicy(max_retries=1))
    def flaky() -> int:
        raise RuntimeError("always")

    defs = Definitions(assets=[flaky])
    result = raystra.materialize(defs, executor="in_process", raise_on_error=False)
    assert result.status is RunStatus.FAILURE
    observe_run(observer, result)

    found = points(reader)
    by_status = {p.attributes["raystra.step.status"]: p.count for p in found[metrics.STEP_DURATION]}
    assert by_status == {"retrying": 1, "failed": 1}
    assert value_by(found[metrics.RUNS], "raystra.run.status") == {"FAILURE": 1}
    assert metrics.ROWS_WRITTEN not in found


def test_attempts_still_running_when_a_run_is_canceled_count_as_canceled(
    observer: MetricsObserver, reader: InMemoryMetricReader
) -> None:
    plan = raystra.materialize(DEFS, ["orders"], executor="in_process").plan
    observer.run_started(ObservedRun(run_id="r1", plan=plan, definitions=DEFS, executor="ray"))
    events: list[Event] = [
        RunStarted(run_id="r1", timestamp=100.0, step_keys=("orders",)),
        StepStarted(run_id="r1", timestamp=100.5, step_key="orders"),
        RunCanceled(run_id="r1", timestamp=103.0, reason="Ctrl-C"),
    ]
    for event in events:
        observer.observe(event)
    observer.run_finished(RunStatus.CANCELED)

    found = points(reader)
    (duration,) = found[metrics.STEP_DURATION]
    assert duration.attributes["raystra.step.status"] == "canceled"
    assert duration.attributes["raystra.run.executor"] == "ray"
    assert duration.sum == pytest.approx(2.5)
    assert value_by(found[metrics.RUNS], "raystra.run.status") == {"CANCELED": 1}


def test_op_steps_are_labelled_by_job_and_op(
    observer: MetricsObserver, reader: InMemoryMetricReader
) -> None:
    @raystra.op
    def extract() -> int:
        return 1

    @raystra.op
    def load(value: int) -> int:
        return value + 1

    @raystra.job
    def etl() -> None:
        load(extract())

    defs = Definitions(jobs=[etl])
    result = raystra.execute_job(defs, "etl", executor="in_process")
    observer.run_started(
        ObservedRun(run_id=result.run_id, plan=result.plan, definitions=defs, job_name="etl")
    )
    for event in result.events:
        observer.observe(event)
    observer.run_finished(result.status)

    found = points(reader)
    steps = {
        p.attributes["raystra.step.key"]: dict(p.attributes) for p in found[metrics.STEP_DURATION]
    }
    assert set(steps) == {"extract", "load"}
    assert all(a["raystra.job.name"] == "etl" for a in steps.values())
    assert value_by(found[metrics.RUNS], "raystra.job.name") == {"etl": 1}


# -- backfill progress -----------------------------------------------------------------------


def backfill_gauges(reader: InMemoryMetricReader, backfill_id: str) -> dict[str, int]:
    found = points(reader)
    states = {
        p.attributes["raystra.backfill.target.state"]: p.value
        for p in found[metrics.BACKFILL_TARGETS]
        if p.attributes["raystra.backfill.id"] == backfill_id
    }
    (requested,) = [
        p.value
        for p in found[metrics.BACKFILL_TARGETS_REQUESTED]
        if p.attributes["raystra.backfill.id"] == backfill_id
    ]
    return {**states, "requested": requested}


def test_the_backfill_tag_is_the_one_backfills_put_on_their_runs() -> None:
    assert metrics._BACKFILL_TAG == BACKFILL_TAG


def test_backfill_progress_moves_as_a_backfill_run_goes(
    observer: MetricsObserver, reader: InMemoryMetricReader
) -> None:
    done = raystra.backfill(
        DEFS, "daily", partitions=PartitionRequest(all=True), backfill_id="bf-live"
    )
    run = done.run
    observer.run_started(
        ObservedRun(
            run_id=run.run_id, plan=run.plan, definitions=DEFS, tags={BACKFILL_TAG: "bf-live"}
        )
    )
    assert backfill_gauges(reader, "bf-live") == {
        "done": 0,
        "failed": 0,
        "pending": 3,
        "requested": 3,
    }
    for event in run.events:
        observer.observe(event)
    observer.run_finished(run.status)
    assert backfill_gauges(reader, "bf-live") == {
        "done": 2,
        "failed": 1,
        "pending": 0,
        "requested": 3,
    }


def test_a_resumed_backfill_counts_from_the_recorded_baseline(
    observer: MetricsObserver, reader: InMemoryMetricReader
) -> None:
    provider = observer.meter_provider
    # What the backfill code reports when the resume starts: 2 done earlier, 1 failed.
    record_backfill_progress("bf-resume", {"materialized": 2, "failed": 1}, meter_provider=provider)
    assert backfill_gauges(reader, "bf-resume") == {
        "done": 2,
        "failed": 1,
        "pending": 0,
        "requested": 3,
    }
    # The resume plans the one target left; its run starts from the baseline.
    result = raystra.materialize(DEFS, ["orders"], executor="in_process")
    observe_run(observer, result, tags={BACKFILL_TAG: "bf-resume"})
    assert backfill_gauges(reader, "bf-resume") == {
        "done": 3,
        "failed": 0,
        "pending": 0,
        "requested": 3,
    }


def test_backfill_progress_loads_nothing_when_metrics_are_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", raising=False)

    def load() -> dict[str, int]:
        raise AssertionError("counts loaded while metrics are off")

    record_backfill_progress("bf-off", load)


# -- on the wire -----------------------------------------------------------------------------


class MetricsReceiver:
    """A real OTLP/HTTP metrics endpoint on 127.0.0.1 that decodes the protobuf it gets."""

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    receiver.requests.append(request)
                payload = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/metrics" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(
        self, name: str, timeout_s: float
    ) -> dict[str, list[tuple[dict[str, Any], dict[str, Any], Any]]]:
        """`metrics` once a point of ``name`` arrived (or what came within ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            received = self.metrics()
            if name in received or time.monotonic() > deadline:
                return received
            time.sleep(0.02)

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], dict[str, Any], Any]]]:
        """Name -> (resource attributes, point attributes, point) of every point received."""
        found: dict[str, list[tuple[dict[str, Any], dict[str, Any], Any]]] = {}
        with self.lock:
            requests = list(self.requests)
        for request in requests:
            for resource_metrics in request.resource_metrics:
                resource = _attributes(resource_metrics.resource.attributes)
                for scope_metrics in resource_metrics.scope_metrics:
                    assert scope_metrics.scope.name == "raystra"
                    for metric in scope_metrics.metrics:
                        kind = metric.WhichOneof("data")
                        for point in getattr(metric, kind).data_points:
                            found.setdefault(metric.name, []).append(
                                (resource, _attributes(point.attributes), point)
                            )
        return found


def _attributes(key_values: Any) -> dict[str, Any]:
    decoded = {}
    for kv in key_values:
        kind = kv.value.WhichOneof("value")
        decoded[kv.key] = getattr(kv.value, kind) if kind else None
    return decoded


@pytest.fixture
def receiver() -> Iterator[MetricsReceiver]:
    receiver = MetricsReceiver()
    yield receiver
    metrics.shutdown_meter_providers(timeout_millis=2_000)  # stop exporting to this receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_metrics_export_over_otlp_http_to_a_real_receiver(
    receiver: MetricsReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", f"{receiver.endpoint}/v1/metrics")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert any(isinstance(o, MetricsObserver) for o in configured_observers().observers)

    # The run's own driver observes it: the export it asks for as it ends (on a background
    # thread, so the run does not wait for it) is what sends.
    result = raystra.materialize(DEFS, ["orders", "order_count"], executor="in_process")
    assert result.success

    received = receiver.wait_for(metrics.STEP_DURATION, timeout_s=10.0)
    assert received, "nothing was exported within 10 s of the end of the run"
    for resource, _, _ in (entry for points in received.values() for entry in points):
        assert resource["service.name"] == "raystra"

    durations = {
        attributes["raystra.asset.key"]: (attributes, point)
        for _, attributes, point in received[metrics.STEP_DURATION]
    }
    assert set(durations) == {"orders", "order_count"}
    for attributes, point in durations.values():
        assert attributes["raystra.step.status"] == "success"
        assert attributes["raystra.run.executor"] == "in_process"
        assert point.count == 1 and point.sum > 0
        assert list(point.explicit_bounds)[:3] == [0.005, 0.01, 0.025]

    rows = {a["raystra.asset.key"]: p.as_int for _, a, p in received[metrics.ROWS_WRITTEN]}
    assert rows == {"orders": 3, "order_count": 1}
    sizes = {a["raystra.asset.key"]: p.as_int for _, a, p in received[metrics.BYTES_WRITTEN]}
    expected = {
        e.asset_key.to_user_string(): e.metadata["byte_size"] for e in result.materializations
    }
    assert sizes == expected
    runs = [(a, p.as_int) for _, a, p in received[metrics.RUNS]]
    assert runs == [({"raystra.run.status": "SUCCESS", "raystra.run.executor": "in_process"}, 1)]


def test_a_process_that_exits_right_after_its_run_still_exports_the_run(
    receiver: MetricsReceiver, tmp_path: Path
) -> None:
    # As a CLI run does: the run ends, the process exits at once; the export the run asked
    # for on its background thread, or the last one at exit, must still reach the collector.
    code = (
        "import raystra\n"
        "@raystra.asset\n"
        "def quick() -> int:\n"
        "    return 1\n"
        "result = raystra.materialize(raystra.Definitions([quick]), executor='in_process')\n"
        "assert result.success\n"
    )
    environ = {
        **os.environ,
        "RAYSTRA_HOME": str(tmp_path),
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"{receiver.endpoint}/v1/metrics",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
    }
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=environ)

    received = receiver.metrics()  # the process has exited: nothing more can arrive
    # Cumulative points: the export after the run and the one at exit may both carry them.
    durations = {a["raystra.asset.key"]: p.count for _, a, p in received[metrics.STEP_DURATION]}
    assert durations == {"quick": 1}
    runs = {(a["raystra.run.status"], p.as_int) for _, a, p in received[metrics.RUNS]}
    assert runs == {("SUCCESS", 1)}
