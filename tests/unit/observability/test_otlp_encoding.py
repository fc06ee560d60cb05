"""raystra's own OTLP span encoding decodes to exactly what the SDK's encoder sends."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_instrumentation_scope,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags

from raystra.observability._otlp_encoding import encode_request, encode_span

TRACE = 0x1234567890ABCDEF1234567890ABCDEF
SAMPLED = TraceFlags(TraceFlags.SAMPLED)
ATTRIBUTES: dict[str, Any] = {
    "raystra.step.key": "orders",
    "process.pid": 12345,
    "negative": -5,
    "raystra.run.status": True,
    "ratio": 1.5,
    "raystra.asset.keys": ["a/b", "c"],
    "unicode": "ünïcode",
}


def _context(span_id: int) -> SpanContext:
    return SpanContext(TRACE, span_id, is_remote=False, trace_flags=SAMPLED)


@pytest.mark.parametrize("parent", [None, 77])
@pytest.mark.parametrize("error", [None, ("ValueError", "bad input", "Traceback ...")])
def test_encoded_span_equals_the_sdk_encoding(
    parent: int | None, error: tuple[str, str, str] | None
) -> None:
    resource = Resource.create({"service.name": "raystra"})
    scope = InstrumentationScope("raystra", "0.1")
    exception = {}
    if error is not None:
        exception = {
            "exception.type": error[0],
            "exception.message": error[1],
            "exception.stacktrace": error[2],
        }
    sdk_span = ReadableSpan(
        "raystra.step",
        context=_context(5),
        parent=_context(parent) if parent else None,
        resource=resource,
        attributes=ATTRIBUTES,
        events=(Event("exception", exception, timestamp=20),) if error else (),
        links=[Link(_context(9), {"raystra.step.key": "upstream"})],
        status=Status(StatusCode.ERROR, f"{error[0]}: {error[1]}") if error else Status(),
        start_time=10,
        end_time=20,
        instrumentation_scope=scope,
    )
    ours = encode_span(
        trace_id=TRACE,
        span_id=5,
        parent_id=parent,
        name="raystra.step",
        start_ns=10,
        end_ns=20,
        attributes=ATTRIBUTES,
        status_message=f"{error[0]}: {error[1]}" if error else None,
        events=[("exception", 20, exception)] if error else [],
        links=[(TRACE, 9, {"raystra.step.key": "upstream"})],
    )
    request = encode_request(
        _encode_resource(resource).SerializeToString(),
        _encode_instrumentation_scope(scope).SerializeToString(),
        [ours, ours],  # cached attribute pairs encode the same the second time
    )
    expected = encode_spans([sdk_span, sdk_span])
    assert ExportTraceServiceRequest.FromString(request) == expected
    assert request == expected.SerializeToString()


def test_values_that_compare_equal_keep_their_own_types_across_spans() -> None:
    """Encoded attributes are cached; 1 == True and (1, 0) == (True, False) must not share."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    def decoded(value: Any) -> Any:
        data = encode_span(
            trace_id=TRACE,
            span_id=1,
            parent_id=None,
            name="raystra.step",
            start_ns=0,
            end_ns=1,
            attributes={"k": value},
        )
        return Span.FromString(data).attributes[0].value

    assert decoded(1).int_value == 1
    assert decoded(True).WhichOneof("value") == "bool_value"
    assert decoded(1.0).WhichOneof("value") == "double_value"
    ints = decoded((1, 0)).array_value.values
    bools = decoded((True, False)).array_value.values
    assert [v.WhichOneof("value") for v in ints] == ["int_value", "int_value"]
    assert [v.WhichOneof("value") for v in bools] == ["bool_value", "bool_value"]
