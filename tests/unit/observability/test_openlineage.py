"""OpenLineage events of runs: their content, checked against the spec, over HTTP and to a file."""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import raystra
from raystra import DailyPartitionsDefinition, Definitions, RetryPolicy, asset
from raystra.errors import RaystraError
from raystra.events import Event, RunCanceled, RunStarted, RunStatus, StepStarted
from raystra.observability import ObservedRun, configured_observers
from raystra.observability import _openlineage as ol
from raystra.observability._openlineage import (
    OpenLineageObserver,
    openlineage_enabled,
    openlineage_observer,
)
from raystra.observability._openlineage_events import openlineage_run_id, storage_dataset

pytest.importorskip("openlineage.client", reason="OpenLineage emission needs openlineage-python")

DAILY = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")


@asset
def orders() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "amount": [1.5, 2.5, 3.5]})


@asset(partitions_def=DAILY)
def daily_orders(orders: pa.Table) -> pa.Table:
    return orders.slice(0, 2)


DEFS = Definitions(assets=[orders, daily_orders])

# The fields the OpenLineage spec (2-0-2) requires of a run event and of the facets raystra
# sends, written out here: the client package does not ship the JSON schema.
_FACET = {"type": "object", "required": ["_producer", "_schemaURL"]}
_FACETS = {"type": "object", "additionalProperties": {"$ref": "#/$defs/facet"}}
_DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {
        "namespace": {"type": "string", "minLength": 1},
        "name": {"type": "string", "minLength": 1},
        "facets": {
            "type": "object",
            "additionalProperties": {"$ref": "#/$defs/facet"},
            "properties": {
                "schema": {
                    "allOf": [{"$ref": "#/$defs/facet"}],
                    "properties": {
                        "fields": {
                            "type": "array",
                            "items": {"type": "object", "required": ["name"]},
                        }
                    },
                }
            },
        },
        "inputFacets": _FACETS,
        "outputFacets": _FACETS,
    },
}
RUN_EVENT_SCHEMA = {
    "$defs": {"facet": _FACET, "dataset": _DATASET},
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job", "eventType"],
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string"},
        "producer": {"type": "string"},
        "schemaURL": {"type": "string"},
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {
                "runId": {"type": "string"},
                "facets": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/$defs/facet"},
                    "properties": {
                        "parent": {
                            "allOf": [{"$ref": "#/$defs/facet"}],
                            "required": ["run", "job"],
                            "properties": {
                                "run": {"type": "object", "required": ["runId"]},
                                "job": {"type": "object", "required": ["namespace", "name"]},
                            },
                        },
                        "nominalTime": {
                            "allOf": [{"$ref": "#/$defs/facet"}],
                            "required": ["nominalStartTime"],
                        },
                        "errorMessage": {
                            "allOf": [{"$ref": "#/$defs/facet"}],
                            "required": ["message", "programmingLanguage"],
                        },
                    },
                },
            },
        },
        "job": {
            "type": "object",
            "required": ["namespace", "name"],
            "properties": {"facets": _FACETS},
        },
        "inputs": {"type": "array", "items": {"$ref": "#/$defs/dataset"}},
        "outputs": {"type": "array", "items": {"$ref": "#/$defs/dataset"}},
    },
}


def check_event(event: dict[str, Any]) -> None:
    """Validate one emitted event: structure by schema, formats (uuid, date-time, uri) here."""
    jsonschema.validate(event, RUN_EVENT_SCHEMA)
    uuid.UUID(event["run"]["runId"])
    for moment in [event["eventTime"]] + [
        event["run"]["facets"]["nominalTime"][key]
        for key in ("nominalStartTime", "nominalEndTime")
        if "nominalTime" in event["run"].get("facets", {})
    ]:
        assert "T" in moment and datetime.fromisoformat(moment).tzinfo is not None
    parent = event["run"].get("facets", {}).get("parent")
    if parent:
        uuid.UUID(parent["run"]["runId"])
    uris = [event["producer"], event["schemaURL"]]
    for facets in _all_facets(event):
        uris += [facets["_producer"], facets["_schemaURL"]]
    for uri in uris:
        assert urlsplit(uri).scheme, uri


def _all_facets(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from event["run"].get("facets", {}).values()
    yield from event["job"].get("facets", {}).values()
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        for key in ("facets", "inputFacets", "outputFacets"):
            yield from dataset.get(key, {}).values()


def by_job(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        grouped.setdefault(event["job"]["name"], []).append(event)
    return grouped


@pytest.fixture(autouse=True)
def quiet_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No other telemetry, no lineage remembered from other tests, no failure already warned."""
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_NAMESPACE", ol.FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    ol._KNOWN_ASSETS.clear()
    ol._WARNED.clear()
    yield
    ol._KNOWN_ASSETS.clear()


# -- configuration and naming ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, False),
        ({"OPENLINEAGE_URL": "http://127.0.0.1:5000"}, True),
        ({"RAYSTRA_OPENLINEAGE_FILE": "/tmp/x.jsonl"}, True),
        ({"OPENLINEAGE_CONFIG": "/etc/openlineage.yml"}, True),
        ({"OPENLINEAGE__TRANSPORT__TYPE": "console"}, True),
        ({"OPENLINEAGE_URL": "http://127.0.0.1:5000", "OPENLINEAGE_DISABLED": "true"}, False),
        ({"OPENLINEAGE_NAMESPACE": "prod"}, False),
    ],
)
def test_emission_is_on_when_a_destination_is_configured(
    environ: dict[str, str], enabled: bool
) -> None:
    assert openlineage_enabled(environ) is enabled
    if not enabled:
        assert openlineage_observer(environ) is None


def test_a_bad_url_is_a_clear_error() -> None:
    with pytest.raises(RaystraError, match="OPENLINEAGE_URL='marquez:5000' is not a usable URL"):
        openlineage_observer({"OPENLINEAGE_URL": "marquez:5000"})


@pytest.mark.parametrize(
    ("path", "partitioned", "expected"),
    [
        ("/data/raw/orders.parquet", False, ("file", "/data/raw/orders.parquet")),
        ("file:///data/raw/orders.parquet", False, ("file", "/data/raw/orders.parquet")),
        ("file://nas/data/orders.parquet", False, ("file://nas", "/data/orders.parquet")),
        ("s3://lake/raw/orders.parquet", False, ("s3://lake", "raw/orders.parquet")),
        ("s3a://lake/raw/orders.parquet", False, ("s3://lake", "raw/orders.parquet")),
        ("gcs://lake/raw/orders.parquet", False, ("gs://lake", "raw/orders.parquet")),
        ("hdfs://nn:8020/raw/orders", False, ("hdfs://nn:8020", "/raw/orders")),
        ("/data/orders/partition=2024-01-01/data.parquet", True, ("file", "/data/orders")),
        ("s3://lake/t/date=2024-01-01/region=eu/data.parquet", True, ("s3://lake", "t")),
        ("/data/custom/2024-01-01.parquet", True, ("file", "/data/custom/2024-01-01.parquet")),
    ],
)
def test_storage_paths_are_named_after_openlineage_conventions(
    path: str, partitioned: bool, expected: tuple[str, str]
) -> None:
    assert storage_dataset(path, partitioned=partitioned) == expected


def test_run_ids_are_uuids_derived_from_run_step_and_attempt() -> None:
    run_id = str(uuid.uuid4())
    assert openlineage_run_id(run_id) == run_id
    first = openlineage_run_id(run_id, "orders", 1)
    assert first == openlineage_run_id(run_id, "orders", 1)
    others = {openlineage_run_id(run_id, "orders", 2), openlineage_run_id(run_id, "other", 1)}
    assert first not in others and len(others) == 2
    uuid.UUID(openlineage_run_id("not-a-uuid"))


# -- emission to a file, from real runs ------------------------------------------------------


def read_lines(path: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for event in events:
        check_event(event)
    return events


def test_file_emission_names_datasets_by_path_with_schema_and_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lineage = tmp_path / "lineage" / "events.jsonl"
    monkeypatch.setenv("RAYSTRA_OPENLINEAGE_FILE", str(lineage))
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "analytics")

    first = raystra.materialize(DEFS, ["orders"], executor="in_process")
    second = raystra.materialize(
        DEFS, ["daily_orders"], executor="in_process", partition_key="2024-01-02"
    )
    events = read_lines(lineage)
    jobs = by_job(events)
    assert [e["eventType"] for e in jobs["materialize"]] == ["START", "COMPLETE"] * 2
    assert [e["eventType"] for e in jobs["orders"]] == ["START", "COMPLETE"]
    assert [e["eventType"] for e in jobs["daily_orders"]] == ["START", "COMPLETE"]
    assert {e["job"]["namespace"] for e in events} == {"analytics"}

    # The parent run is the raystra run; each attempt has its own derived run id.
    start, complete = jobs["orders"]
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert start["run"]["runId"] == openlineage_run_id(first.run_id, "orders", 1)
    parent = complete["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == first.run_id
    assert parent["job"] == {"namespace": "analytics", "name": "materialize", "facets": {}}
    assert jobs["materialize"][0]["run"]["runId"] == first.run_id

    # The output is the path the IO manager recorded, with the recorded Arrow schema.
    (recorded,) = first.materializations
    path = recorded.metadata["path"]
    (output,) = complete["outputs"]
    assert (output["namespace"], output["name"]) == ("file", path)
    arrow_schema = pq.read_schema(path)
    assert [(f["name"], f["type"]) for f in output["facets"]["schema"]["fields"]] == [
        (field.name, str(field.type)) for field in arrow_schema
    ]
    stats = output["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == 3 and stats["size"] == recorded.metadata["byte_size"]

    # Downstream: its input is that same dataset; its output the partitioned table's root;
    # its nominal time the partition's day.
    down_start, down_complete = jobs["daily_orders"]
    for event in (down_start, down_complete):
        assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [("file", path)]
    (partition_written,) = second.materializations
    (down_output,) = down_complete["outputs"]
    assert down_output["name"] == str(Path(partition_written.metadata["path"]).parents[1])
    assert down_output["outputFacets"]["outputStatistics"]["rowCount"] == 2
    nominal = down_complete["run"]["facets"]["nominalTime"]
    assert datetime.fromisoformat(nominal["nominalStartTime"]) == datetime.fromisoformat(
        "2024-01-02T00:00:00+00:00"
    )
    assert datetime.fromisoformat(nominal["nominalEndTime"]) == datetime.fromisoformat(
        "2024-01-03T00:00:00+00:00"
    )
    assert "nominalTime" not in complete["run"]["facets"]  # orders is not partitioned
    tags = {t["key"]: t["value"] for t in down_complete["run"]["facets"]["tags"]["tags"]}
    assert tags["raystra.partition.key"] == "2024-01-02"
    assert tags["raystra.run.id"] == second.run_id


def test_an_input_stored_by_an_earlier_run_is_named_by_its_recorded_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = raystra.materialize(DEFS, ["orders"], executor="in_process")  # before lineage is on
    (stored,) = first.materializations
    ol._KNOWN_ASSETS.clear()  # as in a fresh process: only run storage knows where it went
    lineage = tmp_path / "events.jsonl"
    monkeypatch.setenv("RAYSTRA_OPENLINEAGE_FILE", str(lineage))
    raystra.materialize(DEFS, ["daily_orders"], executor="in_process", partition_key="2024-01-01")
    (start, complete) = by_job(read_lines(lineage))["daily_orders"]
    expected = [storage_dataset(stored.metadata["path"])]
    for event in (start, complete):
        assert [(i["namespace"], i["name"]) for i in event["inputs"]] == expected


def test_failed_attempts_emit_fail_with_the_error_and_a_retry_gets_its_own_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    @asset(retry_policy=RetryPolicy(max_retries=1))
    def flaky() -> pa.Table:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("warehouse went away")
        return pa.table({"x": [1]})

    @asset
    def broken() -> pa.Table:
        raise ValueError("bad input")

    lineage = tmp_path / "events.jsonl"
    monkeypatch.setenv("RAYSTRA_OPENLINEAGE_FILE", str(lineage))
    result = raystra.materialize(
        Definitions(assets=[flaky, broken]), executor="in_process", raise_on_error=False
    )
    jobs = by_job(read_lines(lineage))

    flaky_events = jobs["flaky"]
    assert [e["eventType"] for e in flaky_events] == ["START", "FAIL", "START", "COMPLETE"]
    run_ids = [e["run"]["runId"] for e in flaky_events]
    assert run_ids[0] == run_ids[1] == openlineage_run_id(result.run_id, "flaky", 1)
    assert run_ids[2] == run_ids[3] == openlineage_run_id(result.run_id, "flaky", 2)
    error = flaky_events[1]["run"]["facets"]["errorMessage"]
    assert error["message"] == "ConnectionError: warehouse went away"
    assert error["programmingLanguage"] == "python"
    assert "Traceback" in error["stackTrace"]

    assert [e["eventType"] for e in jobs["broken"]] == ["START", "FAIL"]
    assert [e["eventType"] for e in jobs["materialize"]] == ["START", "FAIL"]


def test_steps_running_when_a_run_is_canceled_are_aborted() -> None:
    sent: list[Any] = []
    observer = OpenLineageObserver([sent.append])
    plan = raystra.materialize(DEFS, ["orders"], executor="in_process").plan
    run_id = str(uuid.uuid4())
    observer.run_started(ObservedRun(run_id=run_id, plan=plan, definitions=DEFS))
    events: list[Event] = [
        RunStarted(run_id=run_id, timestamp=100.0, step_keys=("orders",)),
        StepStarted(run_id=run_id, timestamp=100.5, step_key="orders"),
        RunCanceled(run_id=run_id, timestamp=103.0, reason="Ctrl-C"),
    ]
    for event in events:
        observer.observe(event)
    observer.run_finished(RunStatus.CANCELED)

    from openlineage.client.serde import Serde

    emitted = [Serde.to_dict(event) for event in sent]
    for event in emitted:
        check_event(event)
    assert [(e["job"]["name"], e["eventType"]) for e in emitted] == [
        ("materialize", "START"),
        ("orders", "START"),
        ("orders", "ABORT"),
        ("materialize", "ABORT"),
    ]
    assert emitted[2]["eventTime"].startswith("1970-01-01T00:01:43")


def test_the_sending_thread_ends_when_idle_even_if_the_run_never_finishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ol, "_IDLE_EXIT_S", 0.05)
    sent: list[Any] = []
    sender = ol._Sender([sent.append], secrets=())
    sender.submit("event-1")
    thread = sender._thread
    assert thread is not None
    thread.join(5)
    assert not thread.is_alive() and sent == ["event-1"]
    sender.submit("event-2")  # a later event starts another thread
    sender.close()
    assert sent == ["event-1", "event-2"]


def test_op_outputs_are_datasets_and_op_jobs_are_named_job_dot_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @raystra.op
    def extract() -> list[int]:
        return [1, 2]

    @raystra.op
    def load(values: list[int]) -> int:
        return sum(values)

    @raystra.job
    def etl() -> None:
        load(extract())

    lineage = tmp_path / "events.jsonl"
    monkeypatch.setenv("RAYSTRA_OPENLINEAGE_FILE", str(lineage))
    raystra.execute_job(Definitions(jobs=[etl]), "etl", executor="in_process")
    jobs = by_job(read_lines(lineage))
    assert set(jobs) == {"etl", "etl.extract", "etl.load"}
    (extract_output,) = jobs["etl.extract"][-1]["outputs"]
    load_inputs = jobs["etl.load"][-1]["inputs"]
    assert [(i["namespace"], i["name"]) for i in load_inputs] == [
        (extract_output["namespace"], extract_output["name"])
    ]
    assert extract_output["name"].endswith(".pkl")


def test_the_clients_own_transport_configuration_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lineage = tmp_path / "client.jsonl"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(lineage))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    raystra.materialize(DEFS, ["orders"], executor="in_process")
    events = read_lines(lineage)
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("materialize", "START"),
        ("orders", "START"),
        ("orders", "COMPLETE"),
        ("materialize", "COMPLETE"),
    ]


# -- emission over HTTP ----------------------------------------------------------------------


class LineageServer:
    """A real HTTP endpoint on 127.0.0.1 that keeps what is POSTed to it."""

    def __init__(self, status: int = 201) -> None:
        self.received: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server.lock:
                    server.received.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LineageServer]:
    server = LineageServer()
    yield server
    server.close()


def test_http_emission_posts_every_event_with_the_api_key_as_bearer_token(
    server: LineageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", server.url)
    monkeypatch.setenv("OPENLINEAGE_API_KEY", "s3cr3t-key")
    assert any(isinstance(o, OpenLineageObserver) for o in configured_observers().observers)
    result = raystra.materialize(DEFS, ["orders"], executor="in_process")

    # The run waited for its events: all are there when materialize returns.
    paths = {path for path, _, _ in server.received}
    assert paths == {"/api/v1/lineage"}
    for _, headers, _ in server.received:
        assert headers["Authorization"] == "Bearer s3cr3t-key"
        assert headers["Content-Type"] == "application/json"
    events = [body for _, _, body in server.received]
    for event in events:
        check_event(event)
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("materialize", "START"),
        ("orders", "START"),
        ("orders", "COMPLETE"),
        ("materialize", "COMPLETE"),
    ]
    assert events[-1]["run"]["runId"] == result.run_id


def test_a_custom_endpoint_path_is_used(
    server: LineageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", server.url)
    monkeypatch.setenv("OPENLINEAGE_ENDPOINT", "/lineage/events")
    monkeypatch.delenv("OPENLINEAGE_API_KEY", raising=False)
    raystra.materialize(DEFS, ["orders"], executor="in_process")
    assert {path for path, _, _ in server.received} == {"/lineage/events"}
    assert all("Authorization" not in headers for _, headers, _ in server.received)


def test_a_failing_endpoint_never_fails_the_run_and_is_reported_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rejecting = LineageServer(status=400)
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", rejecting.url)
        monkeypatch.setenv("OPENLINEAGE_API_KEY", "never-logged-key")
        with caplog.at_level(logging.WARNING, logger="raystra.observability.openlineage"):
            first = raystra.materialize(DEFS, ["orders"], executor="in_process")
            second = raystra.materialize(DEFS, ["orders"], executor="in_process")
    finally:
        rejecting.close()
    assert first.success and second.success
    # One request per run: after the first failure, the run's other events are dropped.
    assert len(rejecting.received) == 2
    warnings = [r for r in caplog.records if "could not be sent" in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert f"{rejecting.url}/api/v1/lineage" in message and "400" in message
    assert "never-logged-key" not in caplog.text


def test_an_unreachable_endpoint_never_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{port}")
    with caplog.at_level(logging.WARNING, logger="raystra.observability.openlineage"):
        result = raystra.materialize(DEFS, ["orders"], executor="in_process")
    assert result.success
    assert any("could not be sent" in r.getMessage() for r in caplog.records)
