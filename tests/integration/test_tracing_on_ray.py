"""Traces on the wire: runs on Ray export OTLP/HTTP to a real receiver that decodes protobuf."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver

from raystra import asset, materialize
from raystra.api import get_run
from raystra.definitions import Definitions

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("on_ray")]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.endpoint)
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")  # traces only, here
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "raystra-tests")
        yield running


def _trace_of(run_id: str) -> str:
    trace_id = get_run(run_id).trace_id
    assert trace_id is not None, "a traced run stores its trace context"
    return trace_id


def _steps(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {
        s.attributes["raystra.step.key"]: s
        for s in spans
        if s.name == "raystra.step" and s.attributes.get("raystra.step.status") == "success"
    }


def _children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_span_id == parent.span_id]


def _defs() -> Definitions:
    @asset
    def source() -> pa.Table:
        return pa.table({"x": list(range(10))})

    @asset
    def left(source: pa.Table) -> pa.Table:
        return source.slice(0, 4)

    @asset
    def right(source: pa.Table) -> pa.Table:
        return source.slice(4)

    @asset
    def joined(left: pa.Table, right: pa.Table) -> pa.Table:
        return pa.concat_tables([left, right])

    return Definitions([source, left, right, joined])


def test_a_run_on_ray_is_one_trace_with_steps_phases_and_fan_in_links(
    receiver: OtlpReceiver,
) -> None:
    result = materialize(_defs())
    trace_id = _trace_of(result.run_id)
    spans = receiver.in_trace(trace_id)

    (run,) = [s for s in spans if s.name == "raystra.run"]
    assert run.parent_span_id == ""
    assert run.attributes["raystra.run.id"] == result.run_id
    assert run.attributes["raystra.run.status"] == "SUCCESS"
    assert run.attributes["raystra.run.executor"] == "ray"
    assert run.resource["service.name"] == "raystra-tests"

    steps = _steps(spans)
    assert set(steps) == {"source", "left", "right", "joined"}
    for key, step in steps.items():
        assert step.parent_span_id == run.span_id
        assert step.attributes["raystra.asset.key"] == key
        assert step.attributes["raystra.step.attempt"] == 1
        # Ran in a Ray worker, and says which one.
        assert step.attributes["process.pid"] != os.getpid()
        assert len(step.attributes["raystra.ray.task_id"]) > 16
        assert step.attributes["raystra.ray.node_id"]
        assert step.attributes["raystra.node"]
        assert run.start_ns <= step.start_ns <= step.end_ns <= run.end_ns
        phases = {s.name: s for s in _children(spans, step)}
        # Compute and the write were timed in the worker, under the step's span.
        assert {"raystra.compute", "raystra.io.write"} <= set(phases)
        write = phases["raystra.io.write"]
        assert write.attributes["raystra.io.path"].endswith(f"{key}.parquet")
        assert (
            write.attributes["raystra.io.rows"]
            == {
                "source": 10,
                "left": 4,
                "right": 6,
                "joined": 10,
            }[key]
        )
        assert step.start_ns <= phases["raystra.compute"].start_ns

    # Fan-in: joined links to the spans of the two steps whose outputs it consumed.
    linked = {span_id for _, span_id, _ in steps["joined"].links}
    assert linked == {steps["left"].span_id, steps["right"].span_id}
    assert {t for t, _, _ in steps["joined"].links} == {trace_id}
    assert {span_id for _, span_id, _ in steps["left"].links} == {steps["source"].span_id}


def test_inputs_loaded_from_storage_get_read_spans(receiver: OtlpReceiver) -> None:
    defs = _defs()
    materialize(defs)
    result = materialize(defs, selection="joined")
    spans = receiver.in_trace(_trace_of(result.run_id))
    joined = _steps(spans)["joined"]
    reads = {
        s.attributes["raystra.io.input"]: s
        for s in _children(spans, joined)
        if s.name == "raystra.io.read"
    }
    assert set(reads) == {"left", "right"}
    assert reads["left"].attributes["raystra.io.rows"] == 4
    assert reads["right"].attributes["raystra.asset.key"] == "right"
    assert joined.links == []  # nothing in this run fed it


def test_a_failed_step_is_an_error_span_with_its_traceback(receiver: OtlpReceiver) -> None:
    @asset
    def fine() -> int:
        return 1

    @asset
    def broken(fine: int) -> int:
        raise ValueError("no rows for 2024-01-01")

    @asset
    def after(broken: int) -> int:
        return broken

    result = materialize([fine, broken, after], raise_on_error=False)
    spans = receiver.in_trace(_trace_of(result.run_id))
    (run,) = [s for s in spans if s.name == "raystra.run"]
    assert run.is_error and run.attributes["raystra.run.status"] == "FAILURE"
    by_key = {s.attributes["raystra.step.key"]: s for s in spans if s.name == "raystra.step"}
    failed = by_key["broken"]
    assert failed.is_error and "no rows for 2024-01-01" in failed.status_message
    assert failed.attributes["error.type"] == "ValueError"
    ((name, exception),) = failed.events
    assert name == "exception" and "raise ValueError" in exception["exception.stacktrace"]
    (compute,) = [s for s in _children(spans, failed) if s.name == "raystra.compute"]
    assert compute.is_error
    assert by_key["after"].attributes["raystra.step.status"] == "skipped"
    assert not by_key["fine"].is_error


def test_an_attempt_killed_with_its_worker_appears_as_an_error_span(
    receiver: OtlpReceiver, tmp_path: Path
) -> None:
    pid_file = tmp_path / "first_attempt.pid"

    @asset
    def survivor() -> pa.Table:
        if not pid_file.exists():
            pid_file.write_text(str(os.getpid()))
            time.sleep(60)  # killed long before this ends
        return pa.table({"x": [1, 2, 3]})

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    result = materialize([survivor])
    killer.join()
    assert result.success
    spans = receiver.in_trace(_trace_of(result.run_id))
    attempts = {s.attributes["raystra.step.attempt"]: s for s in spans if s.name == "raystra.step"}
    assert set(attempts) == {1, 2}
    killed, retried = attempts[1], attempts[2]
    assert killed.is_error and killed.attributes["raystra.step.status"] == "killed"
    assert killed.attributes["error.type"] == "WorkerDied"
    # The killed attempt spans from submission until the retry started.
    assert killed.end_ns <= retried.start_ns + 1_000_000
    assert not retried.is_error and retried.attributes["raystra.step.status"] == "success"
    assert retried.attributes["process.pid"] != int(pid_file.read_text())
