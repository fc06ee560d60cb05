"""Where raystra's spans go: one export pipeline per process and ``OTEL_*`` configuration.

Exporters are the SDK's, chosen by the standard variables (``OTEL_TRACES_EXPORTER``,
``OTEL_EXPORTER_OTLP_*``), each behind the SDK's batch span processor. When every exporter
sends OTLP over HTTP, raystra encodes its spans to protobuf itself (`_otlp_encoding`) and the
SDK exporter only sends them: the SDK's own span objects and encoder cost most of a traced
trivial step's driver CPU.

Example:
    >>> pipeline = pipeline_for({"OTEL_TRACES_EXPORTER": "console"})  # doctest: +SKIP
    >>> pipeline.encoded  # doctest: +SKIP
    False
"""

from __future__ import annotations

import atexit
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raystra.errors import RaystraError
from raystra.observability._config import GRPC_MISSING, exporter_names, otlp_protocol
from raystra.observability._otlp_encoding import encode_request

__all__ = ["EncodedSpan", "Pipeline", "pipeline_for"]

_FLUSH_TIMEOUT_MS = 10_000


@dataclass
class Pipeline:
    """Span processors with their exporters, the resource and scope every span carries.

    ``encoded`` is set when every exporter sends OTLP over HTTP: spans are then handed to
    the processors as their protobuf bytes (`EncodedSpan`), skipping the SDK's span objects
    and encoder, which cost most of a traced trivial step's driver CPU.
    """

    processors: list[Any]
    resource: Any
    scope: Any
    encoded: bool = False

    def emit(self, span: Any) -> None:
        for processor in self.processors:
            processor.on_end(span)

    def flush(self) -> None:
        for processor in self.processors:
            processor.force_flush(_FLUSH_TIMEOUT_MS)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()


_PIPELINES: dict[tuple[tuple[str, str], ...], Pipeline] = {}
_PIPELINES_LOCK = threading.Lock()


def pipeline_for(environ: Mapping[str, str]) -> Pipeline:
    """The process's pipeline for this configuration (exporters keep their connections)."""
    key = tuple(sorted((k, v) for k, v in environ.items() if k.startswith("OTEL_")))
    with _PIPELINES_LOCK:
        pipeline = _PIPELINES.get(key)
        if pipeline is None:
            pipeline = _PIPELINES[key] = _build_pipeline(environ)
            atexit.register(pipeline.shutdown)
        return pipeline


def _build_pipeline(environ: Mapping[str, str]) -> Pipeline:
    from importlib.metadata import version

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    names = exporter_names(environ, "TRACES") or ["otlp"]
    exporters = [_exporter(name, environ) for name in names if name != "none"]
    service = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": "raystra"}
    resource = Resource.create(service)  # merges OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
    scope = InstrumentationScope("raystra", version("raystra"))
    encoded = bool(exporters) and all(_EncodedOtlpExporter.supports(e) for e in exporters)
    if encoded:
        exporters = [_EncodedOtlpExporter(e, resource, scope) for e in exporters]
    return Pipeline(
        processors=[BatchSpanProcessor(exporter) for exporter in exporters],
        resource=resource,
        scope=scope,
        encoded=encoded,
    )


class EncodedSpan:
    """A finished span as its OTLP protobuf bytes, queued by the SDK's batch processor.

    ``context`` is all the processor reads (it drops unsampled spans); raystra's are sampled.
    """

    __slots__ = ("data",)
    context: Any = None  # set once the SDK is imported (`_EncodedOtlpExporter.__init__`)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _EncodedOtlpExporter:
    """Sends batches of `EncodedSpan` through an SDK OTLP/HTTP exporter's HTTP client.

    The SDK exporter keeps everything the ``OTEL_EXPORTER_OTLP_*`` variables configure
    (endpoint, headers, compression, timeout, certificates, retries); only the encoding is
    raystra's (`raystra.observability._otlp_encoding`).
    """

    def __init__(self, inner: Any, resource: Any, scope: Any) -> None:
        from opentelemetry.exporter.otlp.proto.common._internal import (
            _encode_instrumentation_scope,
            _encode_resource,
        )
        from opentelemetry.trace import INVALID_SPAN_ID, SpanContext, TraceFlags

        self.inner = inner
        self.resource = _encode_resource(resource).SerializeToString()
        self.scope = _encode_instrumentation_scope(scope).SerializeToString()
        EncodedSpan.context = SpanContext(
            trace_id=1,
            span_id=INVALID_SPAN_ID + 1,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )

    @staticmethod
    def supports(exporter: Any) -> bool:
        """True for the SDK's OTLP/HTTP span exporter (the client this class sends through)."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        client = getattr(exporter, "_client", None)
        return isinstance(exporter, OTLPSpanExporter) and callable(getattr(client, "export", None))

    def export(self, spans: Sequence[EncodedSpan]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        data = encode_request(self.resource, self.scope, (span.data for span in spans))
        result = self.inner._client.export(data)
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _exporter(name: str, environ: Mapping[str, str]) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        # stderr: the CLI's own output (tables, --json) stays clean on stdout.
        return ConsoleSpanExporter(out=sys.stderr)
    protocol = otlp_protocol(environ, "TRACES")
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError as err:
            raise RaystraError(GRPC_MISSING) from err
        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise RaystraError(
        f"OTLP protocol {protocol!r} is not supported for traces: set "
        "OTEL_EXPORTER_OTLP_PROTOCOL to http/protobuf (the default) or grpc."
    )
