"""OpenTelemetry traces of runs: one trace per run, built in the driver from the run's events.

Shape (docs/observability.md has the attribute table):

- ``raystra.run``: the root span, from the run's start to its terminal event;
- ``raystra.step``: one per step attempt, a child of the run span, with links to the spans
  of the upstream steps whose outputs it consumed (fan-in); its id is `step_span_id`, so the
  worker running the attempt parents its own spans to it without asking anyone;
- ``raystra.io.read`` / ``raystra.compute`` / ``raystra.io.write``: children of the step span,
  timed where the step ran and shipped back with its report (`raystra.events.StepSpans`);
- ``raystra.check``: one per asset check result (per partition), a child of the run span
  linked to the span of the asset step whose value it checked, with the check's name, result
  and severity.

Terminal state comes from the driver's events, never from the worker alone: an attempt whose
worker was killed still gets its span, marked as an error, from the events the executor
records for it. Export is configured by OpenTelemetry's standard variables
(``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_*``, ``OTEL_SERVICE_NAME``...); with none set,
tracing is off and this module's SDK imports never happen.

Example:
    >>> tracing_enabled({"OTEL_TRACES_EXPORTER": "console"})
    True
    >>> tracing_enabled({})
    False
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raystra.events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    Event,
    RunCanceled,
    RunFailed,
    RunStatus,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepSpans,
    StepStarted,
    StepSucceeded,
)
from raystra.observability import _attributes as attrs
from raystra.observability._config import signal_enabled
from raystra.observability._observers import ObservedRun, RunObserver
from raystra.observability._otlp_encoding import encode_span
from raystra.observability._spans import (
    new_traceparent,
    parse_traceparent,
    step_span_id,
)
from raystra.observability._trace_export import EncodedSpan, Pipeline, pipeline_for
from raystra.planning import Step

__all__ = ["TracingObserver", "emit_backfill_span", "tracing_enabled", "tracing_observer"]


def tracing_enabled(environ: Mapping[str, str]) -> bool:
    """True when the standard ``OTEL_*`` variables ask for traces.

    ``OTEL_TRACES_EXPORTER`` naming an exporter other than ``none``, or an OTLP endpoint
    (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) being set, turns
    traces on; ``OTEL_SDK_DISABLED=true`` turns everything off.
    """
    return signal_enabled(environ, "TRACES")


def tracing_observer(environ: Mapping[str, str]) -> TracingObserver | None:
    """A `TracingObserver` when `tracing_enabled`, else None (the `configured_observers` hook)."""
    if not tracing_enabled(environ):
        return None
    return TracingObserver(pipeline_for(environ))


# -- building spans --------------------------------------------------------------------------


class _SpanFactory:
    """Finished SDK spans with ids raystra chooses (run and step ids are derived, not random)."""

    def __init__(self, pipeline: Pipeline, trace_id: int) -> None:
        from opentelemetry.sdk.trace import Event as SpanEvent
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags

        self.pipeline = pipeline
        self.trace_id = trace_id
        self._readable = ReadableSpan
        self._span_event = SpanEvent
        self._link = Link
        self._context = SpanContext
        self._sampled = TraceFlags(TraceFlags.SAMPLED)
        self._status = Status
        self._error = StatusCode.ERROR
        self._unset = Status()
        # Parents repeat (every step's parent is the run span): build each context once.
        self._parents: dict[int, Any] = {}

    def _parent(self, span_id: int) -> Any:
        parent = self._parents.get(span_id)
        if parent is None:
            if len(self._parents) > 10_000:
                self._parents.clear()
            parent = self._parents[span_id] = self.context(span_id)
        return parent

    def context(self, span_id: int, trace_id: int | None = None) -> Any:
        return self._context(
            trace_id=trace_id or self.trace_id,
            span_id=span_id,
            is_remote=False,
            trace_flags=self._sampled,
        )

    def emit(
        self,
        name: str,
        *,
        span_id: int,
        parent_id: int | None,
        start_ns: int,
        end_ns: int,
        attributes: Mapping[str, Any],
        error: tuple[str, str, str] | None = None,  # (type, message, traceback)
        links: Sequence[tuple[int, int, Mapping[str, Any]]] = (),  # (trace id, span id, attrs)
    ) -> None:
        if self.pipeline.encoded:
            self._emit_encoded(name, span_id, parent_id, start_ns, end_ns, attributes, error, links)
            return
        events: tuple[Any, ...] = ()
        status = self._unset
        if error is not None:
            kind, message, stack = error
            status = self._status(self._error, f"{kind}: {message}"[:1000])
            exception = {"exception.type": kind, "exception.message": message}
            if stack:
                exception["exception.stacktrace"] = stack
            events = (self._span_event("exception", exception, timestamp=end_ns),)
        span = self._readable(
            name,
            context=self.context(span_id),
            parent=self._parent(parent_id) if parent_id is not None else None,
            resource=self.pipeline.resource,
            attributes=attributes,
            events=events,
            links=[self._link(self.context(span, trace), dict(a)) for trace, span, a in links],
            status=status,
            start_time=start_ns,
            end_time=max(end_ns, start_ns),
            instrumentation_scope=self.pipeline.scope,
        )
        self.pipeline.emit(span)

    def _emit_encoded(
        self,
        name: str,
        span_id: int,
        parent_id: int | None,
        start_ns: int,
        end_ns: int,
        attributes: Mapping[str, Any],
        error: tuple[str, str, str] | None,
        links: Sequence[tuple[int, int, Mapping[str, Any]]],
    ) -> None:
        status_message = None
        events: list[tuple[str, int, Mapping[str, Any]]] = []
        if error is not None:
            kind, message, stack = error
            status_message = f"{kind}: {message}"[:1000]
            exception = {"exception.type": kind, "exception.message": message}
            if stack:
                exception["exception.stacktrace"] = stack
            events.append(("exception", end_ns, exception))
        data = encode_span(
            trace_id=self.trace_id,
            span_id=span_id,
            parent_id=parent_id,
            name=name,
            start_ns=start_ns,
            end_ns=max(end_ns, start_ns),
            attributes=attributes,
            status_message=status_message,
            events=events,
            links=links,
        )
        self.pipeline.emit(EncodedSpan(data))


def _ns(timestamp: float) -> int:
    return int(timestamp * 1e9)


def _random_span_id() -> int:
    # What the SDK's RandomIdGenerator does: span ids need uniqueness, not secrecy.
    return random.getrandbits(64) or 1


@dataclass
class _OpenAttempt:
    started: StepStarted
    materialized: list[AssetMaterialized] = field(default_factory=list)


class TracingObserver(RunObserver):
    """Turns one run's events into its OpenTelemetry trace (see the module docstring).

    Example:
        >>> import os
        >>> observer = tracing_observer(os.environ)  # None unless OTEL_* turns tracing on
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._traceparent = new_traceparent()
        self.trace_id, self.run_span_id = parse_traceparent(self._traceparent)
        self._spans = _SpanFactory(pipeline, self.trace_id)
        self._run: ObservedRun | None = None
        self._run_started_ns = time.time_ns()
        self._ending: Event | None = None  # RunFailed / RunCanceled, when seen
        self._open: dict[tuple[str, int], _OpenAttempt] = {}
        self._latest_attempt: dict[str, int] = {}
        # Per step: derived span ids, its attributes that do not change between attempts, and
        # the steps whose outputs it reads (computed once, used for every span and link).
        self._span_ids: dict[tuple[str, int], int] = {}
        self._static: dict[str, dict[str, Any]] = {}
        self._producers: dict[str, tuple[tuple[str, Mapping[str, Any]], ...]] = {}
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            StepStarted: self._step_started,
            StepSpans: self._step_spans,
            AssetMaterialized: self._materialized,
            AssetCheckEvaluated: self._check_evaluated,
            StepSucceeded: self._step_succeeded,
            StepFailed: self._step_failed,
            StepRetrying: self._step_retrying,
            StepSkipped: self._step_skipped,
            RunFailed: self._run_ended,
            RunCanceled: self._run_ended,
        }

    def traceparent(self) -> str:
        """The run's W3C traceparent: the run span's context, created with the observer."""
        return self._traceparent

    # -- hooks ---------------------------------------------------------------------------

    def run_started(self, run: ObservedRun) -> None:
        """Remember the run; its span is emitted when it ends, with its true start."""
        self._run = run
        self._run_started_ns = time.time_ns()

    def observe(self, event: Event) -> None:
        """Emit the spans ``event`` completes."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def run_finished(self, status: RunStatus) -> None:
        """Close attempts left open, emit the run span, and flush the exporters."""
        end_ns = time.time_ns()
        ending = self._ending
        for open_attempt in list(self._open.values()):
            reason = "run canceled" if status is RunStatus.CANCELED else "run ended"
            self._emit_step(
                open_attempt,
                end_ns=_ns(ending.timestamp) if ending else end_ns,
                status="canceled" if status is RunStatus.CANCELED else "failed",
                error=("RunEnded", f"{reason} while the attempt was running", ""),
            )
        self._open.clear()
        self._emit_run(status, end_ns)
        self.pipeline.flush()

    # -- events ------------------------------------------------------------------------------

    def _step_started(self, event: StepStarted) -> None:
        self._open[(event.step_key, event.attempt)] = _OpenAttempt(event)
        self._latest_attempt[event.step_key] = event.attempt

    def _step_spans(self, event: StepSpans) -> None:
        parent = self._span_id(event.step_key, event.attempt)
        # `RecordedSpan` fields, as plain tuples (see `SpanRecorder.spans_event`).
        for name, start_ns, end_ns, attributes, error in event.spans:
            # Children carry only their own attributes: the step span above has the run's.
            self._spans.emit(
                name,
                span_id=_random_span_id(),
                parent_id=parent,
                start_ns=start_ns,
                end_ns=end_ns,
                attributes=attributes,
                error=(*error, "") if error else None,
            )

    def _materialized(self, event: AssetMaterialized) -> None:
        open_attempt = self._open.get((event.step_key, self._latest_attempt.get(event.step_key, 1)))
        if open_attempt is not None:
            open_attempt.materialized.append(event)

    def _check_evaluated(self, event: AssetCheckEvaluated) -> None:
        open_attempt = self._open.get((event.step_key, self._latest_attempt.get(event.step_key, 1)))
        started = open_attempt.started.timestamp if open_attempt else event.timestamp
        attributes: dict[str, Any] = {
            attrs.RUN_ID: self._run_id,
            attrs.STEP_KEY: event.step_key,
            attrs.ASSET_KEY: event.asset_key.to_user_string(),
            attrs.CHECK_NAME: event.check_name,
            attrs.CHECK_PASSED: event.passed,
            attrs.CHECK_SEVERITY: event.severity,
        }
        if event.partition is not None:
            attributes[attrs.PARTITION_KEY] = event.partition
        links: list[tuple[int, int, Mapping[str, Any]]] = []
        target = event.target_step_key
        if target is not None and target in self._latest_attempt:
            target_span = self._span_id(target, self._latest_attempt[target])
            links.append((self.trace_id, target_span, {attrs.STEP_KEY: target}))
        error = None
        if event.error is not None:
            error = (event.error.type_name, event.error.message, event.error.traceback)
        elif not event.passed and event.severity == "ERROR":
            error = ("AssetCheckFailed", event.description or "the check did not pass", "")
        self._spans.emit(
            "raystra.check",
            span_id=_random_span_id(),
            parent_id=self.run_span_id,
            start_ns=_ns(started),
            end_ns=_ns(event.timestamp),
            attributes=attributes,
            error=error,
            links=links,
        )

    def _step_succeeded(self, event: StepSucceeded) -> None:
        self._close(event.step_key, event.attempt, event.timestamp, "success", None)

    def _step_failed(self, event: StepFailed) -> None:
        error = (event.error.type_name, event.error.message, event.error.traceback)
        self._close(event.step_key, event.attempt, event.timestamp, "failed", error)

    def _step_retrying(self, event: StepRetrying) -> None:
        killed = event.error.type_name == "WorkerDied"
        error = (event.error.type_name, event.error.message, event.error.traceback)
        status = "killed" if killed else "retrying"
        self._close(event.step_key, event.attempt, event.timestamp, status, error)

    def _step_skipped(self, event: StepSkipped) -> None:
        at = _ns(event.timestamp)
        attributes = {
            **self._static_for(event.step_key),
            attrs.STEP_STATUS: "skipped",
            "raystra.step.skip_reason": event.reason,
        }
        self._spans.emit(
            "raystra.step",
            span_id=step_span_id(self.trace_id, event.step_key, 0),
            parent_id=self.run_span_id,
            start_ns=at,
            end_ns=at,
            attributes=attributes,
        )

    def _run_ended(self, event: Event) -> None:
        self._ending = event

    # -- emission --------------------------------------------------------------------------

    def _close(
        self,
        step_key: str,
        attempt: int,
        timestamp: float,
        status: str,
        error: tuple[str, str, str] | None,
    ) -> None:
        open_attempt = self._open.pop((step_key, attempt), None)
        if open_attempt is None:  # no start seen: date the attempt from its end
            open_attempt = _OpenAttempt(
                StepStarted(run_id="", timestamp=timestamp, step_key=step_key, attempt=attempt)
            )
        self._emit_step(open_attempt, end_ns=_ns(timestamp), status=status, error=error)

    def _emit_step(
        self,
        open_attempt: _OpenAttempt,
        *,
        end_ns: int,
        status: str,
        error: tuple[str, str, str] | None,
    ) -> None:
        started = open_attempt.started
        attributes: dict[str, Any] = {
            **self._static_for(started.step_key),
            attrs.STEP_ATTEMPT: started.attempt,
            attrs.STEP_STATUS: status,
        }
        # Where it ran, when known (an attempt dated by the driver alone has none of these).
        if started.host:
            attributes[attrs.NODE] = started.host
        if started.pid:
            attributes[attrs.PROCESS_PID] = started.pid
        if started.ray_task_id:
            attributes[attrs.RAY_TASK_ID] = started.ray_task_id
        if started.ray_node_id:
            attributes[attrs.RAY_NODE_ID] = started.ray_node_id
        if error is not None:
            attributes[attrs.ERROR_TYPE] = error[0]
        materialized = open_attempt.materialized
        if materialized:
            attributes[attrs.IO_ROWS] = sum(
                int(m.metadata.get("row_count", 0) or 0) for m in materialized
            )
            attributes[attrs.IO_BYTES] = sum(
                int(m.metadata.get("byte_size", 0) or 0) for m in materialized
            )
        self._spans.emit(
            "raystra.step",
            span_id=self._span_id(started.step_key, started.attempt),
            parent_id=self.run_span_id,
            start_ns=_ns(started.timestamp),
            end_ns=end_ns,
            attributes=attributes,
            error=error,
            links=self._upstream_links(started.step_key),
        )

    def _step(self, step_key: str) -> Step | None:
        if self._run is None:
            return None
        try:
            return self._run.plan.step(step_key)
        except KeyError:
            return None

    def _span_id(self, step_key: str, attempt: int) -> int:
        key = (step_key, attempt)
        span_id = self._span_ids.get(key)
        if span_id is None:
            span_id = self._span_ids[key] = step_span_id(self.trace_id, step_key, attempt)
        return span_id

    def _static_for(self, step_key: str) -> Mapping[str, Any]:
        """The step's attributes that never change (shared: copy before adding to them)."""
        static = self._static.get(step_key)
        if static is None:
            static = self._static[step_key] = self._static_attributes(step_key)
        return static

    def _static_attributes(self, step_key: str) -> dict[str, Any]:
        attributes: dict[str, Any] = {attrs.RUN_ID: self._run_id, attrs.STEP_KEY: step_key}
        step = self._step(step_key)
        if step is None:
            return attributes
        if step.checked_asset is not None:
            attributes[attrs.ASSET_KEY] = step.checked_asset.to_user_string()
        if step.asset_keys:
            attributes[attrs.ASSET_KEY] = step.asset_keys[0].to_user_string()
            if len(step.asset_keys) > 1:
                attributes[attrs.ASSET_KEYS] = [k.to_user_string() for k in step.asset_keys]
        partitions = step.partition_keys
        if len(partitions) == 1:
            attributes[attrs.PARTITION_KEY] = partitions[0]
        elif partitions:
            attributes[attrs.PARTITION_RANGE_START] = partitions[0]
            attributes[attrs.PARTITION_RANGE_END] = partitions[-1]
            attributes[attrs.PARTITION_COUNT] = len(partitions)
        return attributes

    def _upstream_links(self, step_key: str) -> list[tuple[int, int, Mapping[str, Any]]]:
        """Links to the spans of the in-run steps whose outputs this step consumed."""
        producers = self._producers.get(step_key)
        if producers is None:
            step = self._step(step_key)
            found = set()
            if step is not None:
                found = {i.upstream_step_key for i in step.inputs if i.upstream_step_key}
                found.update(p for i in step.inputs for _, p in i.partitions if p is not None)
            producers = self._producers[step_key] = tuple(
                (producer, {attrs.STEP_KEY: producer}) for producer in sorted(found)
            )
        links: list[tuple[int, int, Mapping[str, Any]]] = []
        for producer, link_attributes in producers:
            attempt = self._latest_attempt.get(producer)
            if attempt is not None:
                span_id = self._span_id(producer, attempt)
                links.append((self.trace_id, span_id, link_attributes))
        return links

    @property
    def _run_id(self) -> str:
        return self._run.run_id if self._run is not None else ""

    def _emit_run(self, status: RunStatus, end_ns: int) -> None:
        run = self._run
        attributes: dict[str, Any] = {attrs.RUN_ID: self._run_id, attrs.RUN_STATUS: status.value}
        error = None
        if run is not None:
            attributes[attrs.EXECUTOR] = run.executor
            if run.job_name:
                attributes[attrs.JOB_NAME] = run.job_name
            backfill = run.tags.get("raystra/backfill")
            if backfill:
                attributes[attrs.BACKFILL_ID] = backfill
            attributes["raystra.run.step_count"] = len(run.plan.steps)
        ending = self._ending
        if status is RunStatus.FAILURE:
            reason = getattr(ending, "reason", "") or "one or more steps failed"
            error = ("RunFailed", reason, "")
        elif status is RunStatus.CANCELED:
            error = ("RunCanceled", getattr(ending, "reason", "") or "canceled", "")
        self._spans.emit(
            "raystra.run",
            span_id=self.run_span_id,
            parent_id=None,
            start_ns=self._run_started_ns,
            end_ns=_ns(ending.timestamp) if ending else end_ns,
            attributes=attributes,
            error=error,
        )


def emit_backfill_span(
    environ: Mapping[str, str],
    *,
    backfill_id: str,
    started_at: float,
    ended_at: float,
    status: str,
    run_traceparents: Sequence[str],
    attributes: Mapping[str, Any] | None = None,
) -> str | None:
    """Emit a ``raystra.backfill`` span linking the runs the backfill drove; its trace id.

    Each run is its own trace; the backfill's span starts a trace of its own and links to
    every run's root span. Nothing happens (None) when tracing is off.
    """
    if not tracing_enabled(environ):
        return None
    pipeline = pipeline_for(environ)
    trace_id, _ = parse_traceparent(new_traceparent())
    spans = _SpanFactory(pipeline, trace_id)
    links = []
    for traceparent in run_traceparents:
        run_trace, run_span = parse_traceparent(traceparent)
        links.append((run_trace, run_span, {"raystra.link": "run"}))
    error = None if status == "COMPLETED" else ("Backfill" + status.title(), status, "")
    spans.emit(
        "raystra.backfill",
        span_id=_random_span_id(),
        parent_id=None,
        start_ns=_ns(started_at),
        end_ns=_ns(ended_at),
        attributes={attrs.BACKFILL_ID: backfill_id, **(attributes or {})},
        error=error if status in ("FAILED", "CANCELED") else None,
        links=links,
    )
    pipeline.flush()
    return f"{trace_id:032x}"
