"""Turning what a step does into events and telemetry: captured logs, spans, run observers.

Run observers (`RunObserver`) consume a run's events in the driver: OpenTelemetry traces and
metrics and OpenLineage events are observers, turned on by environment variables
(`configured_observers`). Steps record their phases as `RecordedSpan` tuples where they run.
"""

from raystra.observability._config import configured_observers
from raystra.observability._log_capture import StepLogCapture
from raystra.observability._metrics import (
    MetricsObserver,
    metrics_enabled,
    metrics_observer,
    record_backfill_progress,
    shutdown_meter_providers,
)
from raystra.observability._observers import ObservedRun, ObserverGroup, RunObserver
from raystra.observability._openlineage import (
    OpenLineageObserver,
    openlineage_enabled,
    openlineage_observer,
)
from raystra.observability._openlineage_events import openlineage_run_id, storage_dataset
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
    "MetricsObserver",
    "ObservedRun",
    "ObserverGroup",
    "OpenLineageObserver",
    "RecordedSpan",
    "RunObserver",
    "SpanRecorder",
    "StepLogCapture",
    "TracingObserver",
    "configured_observers",
    "emit_backfill_span",
    "metrics_enabled",
    "metrics_observer",
    "new_traceparent",
    "openlineage_enabled",
    "openlineage_observer",
    "openlineage_run_id",
    "parse_traceparent",
    "record_backfill_progress",
    "shutdown_meter_providers",
    "step_span_id",
    "step_traceparent",
    "storage_dataset",
    "tracing_enabled",
    "tracing_observer",
]
