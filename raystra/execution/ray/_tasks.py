"""What runs inside Ray workers: one compute task per step, one persist task per large output.

A compute task returns two objects: the step's output values (read by downstream tasks
straight from the object store, never by the driver) and a small `StepReport` the driver
waits on. Reports travel as standard-pickle bytes (`pack_report`): Ray would otherwise pickle
them with cloudpickle, whose per-object Python hook costs more than a trivial step's work.
"""

from __future__ import annotations

import functools
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ray
from ray import cloudpickle

from raystra.definitions import Definitions
from raystra.events import ErrorInfo, Event, StepFailed, StepSucceeded, now
from raystra.execution._handoff import gather_upstream
from raystra.execution._persist import persist_outputs
from raystra.execution._step_runner import run_step
from raystra.execution.ray._log_sink import LIVE_AFTER_S, pushes, worker_sink
from raystra.execution.ray._shipping import PackedSteps, fetch
from raystra.observability import SpanRecorder, StepLogCapture
from raystra.planning import Step

__all__ = [
    "NotProduced",
    "RunContext",
    "StepReport",
    "compute_step",
    "output_nbytes",
    "pack_report",
    "persist_step",
    "unpack_report",
]


@dataclass(frozen=True)
class NotProduced:
    """Stands in for the values of a step that failed or was skipped, so dependents skip."""

    step_key: str
    status: str  # "failed" | "skipped"


@dataclass(frozen=True)
class StepReport:
    """The small record a task returns to the driver: events and what is left to do."""

    step_key: str
    status: str  # "success" | "deferred" | "failed" | "skipped"
    events: tuple[Event, ...] = ()
    deferred: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    attempt: int = 1
    ray_attempt: int = 0  # how many earlier attempts Ray retried after their worker died
    started_at: float = 0.0
    blocked_by: tuple[tuple[str, str], ...] = ()  # (upstream step key, its status)
    reason: str = ""  # why a step was skipped, when not simply "upstream step failed"
    live: bool = False  # some of its lines went live (`_log_sink`): the driver drains first


def pack_report(report: StepReport) -> bytes:
    """``report`` as bytes: standard pickle (fast), cloudpickle for what it cannot handle."""
    try:
        return pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError):
        # Metadata holding an object defined in __main__ or a closure.
        return bytes(cloudpickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL))  # type: ignore[no-untyped-call]


def unpack_report(packed: bytes) -> StepReport:
    """The report `pack_report` packed."""
    report = pickle.loads(packed)
    assert isinstance(report, StepReport)
    return report


@dataclass(frozen=True)
class RunContext:
    """What a run's tasks share, published once per run (see `_shipping`).

    The definitions are published separately (``definitions_key``): once per Ray session and
    reused by every run of the same `Definitions`, so workers keep them deserialised across
    runs.
    """

    run_id: str
    definitions_key: str
    steps_key: str  # the plan's `PackedSteps`, published by content
    step_config: Mapping[str, Mapping[str, Any]]
    defer_bytes: int
    live_logs: bool = False  # running steps send their lines to the driver (`_log_sink`)

    def step(self, key: str) -> Step:
        """The plan's step ``key``, decoded on first use in this worker."""
        packed = self.__dict__.get("_steps")
        if packed is None:
            # Kept on this (worker-cached) context: a lookup per step in the shared cache
            # costs more than it is worth.
            packed = fetch(self.steps_key)
            assert isinstance(packed, PackedSteps)
            object.__setattr__(self, "_steps", packed)
        return packed.step(key)

    def __getstate__(self) -> dict[str, Any]:
        # What a worker kept (`step`, `definitions`) never travels with the context.
        return {k: v for k, v in self.__dict__.items() if k not in ("_steps", "_definitions")}

    @property
    def definitions(self) -> Definitions:
        """The run's definitions, from this worker's cache."""
        definitions = self.__dict__.get("_definitions")
        if definitions is None:
            definitions = fetch(self.definitions_key)
            assert isinstance(definitions, Definitions)
            object.__setattr__(self, "_definitions", definitions)
        return definitions


def _context(run_key: str) -> RunContext:
    context = fetch(run_key)
    assert isinstance(context, RunContext)
    return context


def _ray_attempt() -> int:
    """How many times Ray already ran this task (0 on the first attempt)."""
    # Ray has no public accessor; the core worker knows (0 when the API is missing).
    core_worker = getattr(ray._private.worker.global_worker, "core_worker", None)
    getter = getattr(core_worker, "get_current_task_attempt_number", None)
    return int(getter()) if callable(getter) else 0


def output_nbytes(value: Any) -> int:
    """Size of a table-like value in memory, without importing any dataframe library."""
    try:
        nbytes = getattr(value, "nbytes", None)  # pyarrow Table, numpy arrays
    except Exception:  # a lazy frame (Dask) refuses rather than compute itself
        return 0
    if isinstance(nbytes, int):
        return nbytes
    module = type(value).__module__
    if module.startswith("pandas"):
        return int(value.memory_usage(index=True, deep=False).sum())
    if module.startswith("polars"):
        return int(value.estimated_size())
    return 0


def _defer_at_least(threshold: int) -> Callable[[Any], bool]:
    return lambda value: output_nbytes(value) >= threshold


def compute_step(call: list[str | None], *upstream: Any) -> tuple[Any, bytes]:
    """Run one step; return (values, packed report).

    ``call`` is [run key, step key, traceparent]: the key the run was published under, the
    step to run, and the run's W3C trace context when the run is traced (the step's spans
    join that trace), else None. One argument rather than three, and a list: Ray serialises
    every argument on the driver (a list of strings by msgpack, ~1.7 us; a tuple goes through
    pickle, ~6 us), a cost paid on every step.
    ``upstream`` holds, per upstream step in ``Step.upstream_step_keys`` order, that step's
    output values (a dict) for data dependencies, or its packed report for ordering-only ones.
    """
    run_key, step_key, traceparent = call
    assert run_key is not None and step_key is not None
    values, report = _compute(_context(run_key), step_key, traceparent, upstream)
    return values, pack_report(report)


def _ray_ids(traceparent: str | None) -> tuple[str, str]:
    """(task id, node id) of the running task, asked only when the run is traced."""
    if traceparent is None:
        return ("", "")
    return (ray.get_runtime_context().get_task_id() or "", _node_id())


@functools.cache
def _node_id() -> str:
    # A worker never moves between nodes: asked once per worker process.
    return ray.get_runtime_context().get_node_id()


def _upstream_status(value: Any) -> str:
    if isinstance(value, NotProduced):
        return value.status
    if isinstance(value, bytes):  # an ordering-only dependency's packed report
        return unpack_report(value).status
    return "success"


def _compute(
    run: RunContext, step_key: str, traceparent: str | None, upstream: tuple[Any, ...]
) -> tuple[Any, StepReport]:
    step = run.step(step_key)
    upstream_keys = step.upstream_step_keys
    statuses = [_upstream_status(value) for value in upstream]
    blocked = tuple(
        (key, status)
        for key, status in zip(upstream_keys, statuses, strict=True)
        if status in ("failed", "skipped")
    )
    if blocked:
        return NotProduced(step.key, "skipped"), StepReport(step.key, "skipped", blocked_by=blocked)
    by_step = {
        key: value
        for key, value in zip(upstream_keys, upstream, strict=True)
        if isinstance(value, dict)
    }
    upstream_values, missing = gather_upstream(step, by_step.get)
    if missing:
        blocked_parts = tuple((key, "partition failed") for key in upstream_keys)
        report = StepReport(
            step.key, "skipped", blocked_by=blocked_parts, reason="; ".join(missing[:3])
        )
        return NotProduced(step.key, "skipped"), report
    ray_attempt = _ray_attempt()
    pushed = pushes()
    outcome = run_step(
        run.definitions,
        step,
        run_id=run.run_id,
        config=run.step_config.get(step.node_step_key),
        upstream_values=upstream_values,
        defer=_defer_at_least(run.defer_bytes),
        first_attempt=1 + ray_attempt,
        traceparent=traceparent,
        ray_ids=_ray_ids(traceparent),
        live=worker_sink(run.run_id) if run.live_logs else None,
        live_after_s=LIVE_AFTER_S,
    )
    live = pushes() != pushed
    if not outcome.success:
        report = StepReport(
            step.key, "failed", tuple(outcome.events), ray_attempt=ray_attempt, live=live
        )
        return NotProduced(step.key, "failed"), report
    status = "deferred" if outcome.deferred else "success"
    report = StepReport(
        step.key,
        status,
        tuple(outcome.events),
        deferred=outcome.deferred,
        attempt=outcome.attempt,
        ray_attempt=ray_attempt,
        started_at=outcome.started_at,
        live=live,
    )
    return outcome.outputs, report


def persist_step(
    run_key: str, traceparent: str | None, packed_report: bytes, values: Mapping[str, Any]
) -> bytes:
    """Commit the outputs a compute task deferred; succeed the step once all committed."""
    report = unpack_report(packed_report)
    return pack_report(_persist(_context(run_key), traceparent, report, values))


def _persist(
    run: RunContext, traceparent: str | None, report: StepReport, values: Mapping[str, Any]
) -> StepReport:
    run_id = run.run_id
    step = run.step(report.step_key)
    recorder = SpanRecorder(traceparent, step.key, report.attempt) if traceparent else None
    capture = StepLogCapture(
        run_id=run_id,
        step_key=step.key,
        traceparent=recorder.step_traceparent if recorder else None,
    )
    try:
        with capture.capture_output():
            events = persist_outputs(
                run.definitions,
                step,
                run_id=run_id,
                values={name: values[name] for name in report.deferred},
                user_metadata=report.deferred,
                capture=capture,
                recorder=recorder,
                # This write, or the compute task's, ran before on a worker that died.
                earlier_attempt_lost=_ray_attempt() > 0 or report.ray_attempt > 0,
            )
    except Exception as exc:
        error = ErrorInfo.from_exception(exc).redacted(capture.secrets)
        failed = StepFailed(
            run_id=run_id,
            step_key=step.key,
            attempt=report.attempt,
            error=error,
            duration_s=now() - report.started_at,
            host=os.uname().nodename,
            pid=os.getpid(),
        )
        spans = _spans(run_id, recorder)
        return StepReport(
            step.key, "failed", (*capture.events, *spans, failed), attempt=report.attempt
        )
    done = StepSucceeded(
        run_id=run_id,
        step_key=step.key,
        attempt=report.attempt,
        duration_s=now() - report.started_at,
    )
    spans = _spans(run_id, recorder)
    return StepReport(
        step.key, "success", (*capture.events, *events, *spans, done), attempt=report.attempt
    )


def _spans(run_id: str, recorder: SpanRecorder | None) -> tuple[Event, ...]:
    return () if recorder is None else (recorder.spans_event(run_id),)
