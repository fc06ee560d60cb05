"""Turning what a step does into events and telemetry: captured logs, spans, run observers.

Run observers (`RunObserver`) consume a run's events in the driver: OpenTelemetry traces and
metrics and OpenLineage events are observers, turned on by environment variables
(`configured_observers`). Steps record their phases as `RecordedSpan` tuples where they run.
"""

from raystra.observability._config import configured_observers
from raystra.observability._log_capture import StepLogCapture
from raystra.observability._observers import ObservedRun, ObserverGroup, RunObserver
from raystra.observability._spans import (
    RecordedSpan,
    SpanRecorder,
    new_traceparent,
    parse_traceparent,
    step_span_id,
    step_traceparent,
)
from raystra.observability._tracing import (
    TracingObserver,
    emit_backfill_span,
    tracing_enabled,
    tracing_observer,
)

__all__ = [
    "ObservedRun",
    "ObserverGroup",
    "RecordedSpan",
    "RunObserver",
    "SpanRecorder",
    "StepLogCapture",
    "TracingObserver",
    "configured_observers",
    "emit_backfill_span",
    "new_traceparent",
    "parse_traceparent",
    "step_span_id",
    "step_traceparent",
    "tracing_enabled",
    "tracing_observer",
]
