"""The Ray executor: a plan becomes a Ray task DAG; the driver only turns reports into events."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import ray
from ray.exceptions import RayError, TaskCancelledError

from raystra.events import (
    ErrorInfo,
    Event,
    PartitionFailed,
    RunCanceled,
    RunFailed,
    RunStarted,
    RunSucceeded,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
)
from raystra.execution._executor import Executor, RunRequest
from raystra.execution.ray._cluster import check_feasible, connect
from raystra.execution.ray._limits import ConcurrencyLimits
from raystra.execution.ray._log_sink import LiveDrain
from raystra.execution.ray._shipping import (
    publish,
    publish_definitions,
    publish_steps,
    release_steps,
    withdraw,
)
from raystra.execution.ray._tasks import (
    RunContext,
    StepReport,
    compute_step,
    pack_report,
    persist_step,
    unpack_report,
)
from raystra.planning import ExecutionPlan, Step

__all__ = ["RayExecutor"]

_compute = ray.remote(num_returns=2)(compute_step)
_persist = ray.remote(persist_step)


# Outputs at least this large are written by a separate task, beside downstream work; smaller
# ones are written inside the compute task, where an extra task would cost more than the write.
DEFAULT_DEFER_WRITES_BYTES = 8 * 2**20
_WAIT_WINDOW = 32  # reports checked per ray.wait: submission order is roughly finish order
_GATHER_S = 0.01  # after the first ready report, how long to gather more before handling


class RayExecutor(Executor):
    """Runs each step as one Ray task; upstream outputs pass as ObjectRefs, zero-copy.

    All steps are submitted up front in topological order (steps under a concurrency limit
    are submitted when their upstream steps finished and a slot is free), so Ray resolves
    dependencies and runs independent steps in parallel. The driver waits only on the tasks'
    small reports, never on data.

    Args:
        address: Ray cluster to attach to (``auto``, ``ray://host:10001``); default
            ``$RAY_ADDRESS``, else a local Ray started once per process.
        defer_writes_bytes: Outputs at least this large (tables) are written by a separate
            task beside downstream work; default 8 MiB (``$RAYSTRA_DEFER_WRITES_BYTES``).

    Example:
        >>> import raystra
        >>> raystra.materialize(defs, executor=RayExecutor(address="auto"))  # doctest: +SKIP
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, defer_writes_bytes: int | None = None):
        self.address = address
        env_bytes = os.environ.get("RAYSTRA_DEFER_WRITES_BYTES")
        self.defer_writes_bytes = (
            defer_writes_bytes
            if defer_writes_bytes is not None
            else int(env_bytes)
            if env_bytes
            else DEFAULT_DEFER_WRITES_BYTES
        )

    def execute(self, plan: ExecutionPlan, request: RunRequest) -> Iterator[Event]:
        connect(self.address)
        check_feasible(plan)
        yield RunStarted(run_id=request.run_id, step_keys=plan.step_keys, executor=self.name)
        run = _RunDriver(plan, request, self.defer_writes_bytes)
        try:
            yield from run.drive()
        finally:
            run.cancel_pending()
            run.live.discard()
            withdraw(run.run_key)
            release_steps(run.steps_key)
        if run.canceled:
            yield RunCanceled(run_id=request.run_id, reason="canceled on request")
        elif run.failed:
            yield RunFailed(
                run_id=request.run_id,
                failed_step_keys=tuple(run.failed),
                reason=f"{len(run.failed)} step(s) failed: {', '.join(run.failed)}",
            )
        else:
            yield RunSucceeded(run_id=request.run_id)


class _RunDriver:
    """Submission and bookkeeping for one run on Ray."""

    def __init__(self, plan: ExecutionPlan, request: RunRequest, defer_bytes: int) -> None:
        self.plan = plan
        self.request = request
        self.defer_bytes = defer_bytes
        self.steps_key = publish_steps(plan)
        context = RunContext(
            run_id=request.run_id,
            definitions_key=publish_definitions(request.definitions),
            steps_key=self.steps_key,
            step_config=request.step_config,
            defer_bytes=defer_bytes,
            live_logs=request.live_events is not None,
        )
        # Tasks get only this key: each worker fetches the context once and caches it.
        self.run_key = publish("run", context)
        self.limits = ConcurrencyLimits(
            max_concurrent=request.max_concurrent, pools=request.definitions.pools
        )
        self.index = {step.key: i for i, step in enumerate(plan.steps)}
        self.children = plan.downstream()
        self.unsubmitted_parents = {s.key: len(s.upstream_step_keys) for s in plan.steps}
        self.unfinished_parents = dict(self.unsubmitted_parents)
        self.unsubmitted_children = {key: len(kids) for key, kids in self.children.items()}
        self.tasks: dict[str, Any] = {}  # repr of ray_options -> compute task with them
        self.values: dict[str, Any] = {}  # step key -> ObjectRef of its output values
        self.reports: dict[str, Any] = {}  # step key -> ObjectRef of its report
        self.pending: dict[Any, tuple[str, str]] = {}  # report ref -> (kind, step key)
        self.offered: deque[str] = deque()  # steps whose parents were all submitted
        self.ready_limited: list[tuple[int, str]] = []  # heap of limited steps, plan order
        self.outcome: dict[str, str] = {}  # step key -> success | failed | skipped
        self.failed: list[str] = []
        # When each step was submitted: the start of attempts whose worker died unreported.
        self.submitted_at: dict[str, float] = {}
        self.canceled = False
        self.cancel_checked_at = time.monotonic()
        self.live = LiveDrain(request.run_id, request.live_events)

    # -- submission --------------------------------------------------------------------------

    def _task_for(self, step: Step) -> Any:
        """The compute task with the step's ray_options, made once per distinct options.

        Ray's ``.options()`` builds a new wrapper class on every call, which would be most of
        a trivial step's submission cost.
        """
        if not step.ray_options:
            return _compute
        key = repr(sorted(step.ray_options.items()))
        if key not in self.tasks:
            self.tasks[key] = _compute.options(**step.ray_options)
        return self.tasks[key]

    def _upstream_refs(self, step: Step) -> list[Any]:
        data = {i.upstream_step_key for i in step.inputs if i.upstream_step_key is not None}
        data.update(
            producer for i in step.inputs for _, producer in i.partitions if producer is not None
        )
        # Data dependencies pass the values (resolved zero-copy in the worker); ordering-only
        # dependencies pass the small report, so no data moves for them.
        return [
            self.values[key] if key in data else self.reports[key]
            for key in step.upstream_step_keys
        ]

    def _submit(self, step: Step) -> None:
        task = self._task_for(step)
        self.submitted_at[step.key] = time.time()
        values_ref, report_ref = task.remote(
            [self.run_key, step.key, self.request.traceparent], *self._upstream_refs(step)
        )
        self.values[step.key] = values_ref
        self.reports[step.key] = report_ref
        self.pending[report_ref] = ("compute", step.key)
        for parent in step.upstream_step_keys:
            self.unsubmitted_children[parent] -= 1
            self._maybe_release_values(parent)
        for child in self.children[step.key]:
            self.unsubmitted_parents[child] -= 1
            if self.unsubmitted_parents[child] == 0:
                self.offered.append(child)

    def _submit_offered(self) -> None:
        """Submit offered steps, or queue limited ones until parents finish and a slot frees.

        A loop over a work list, not recursion: a 10,000-step chain must not grow the stack.
        """
        while self.offered:
            step = self.plan.step(self.offered.popleft())
            if not self.limits.is_limited(step):
                self._submit(step)
            elif self.unfinished_parents[step.key] == 0:
                heapq.heappush(self.ready_limited, (self.index[step.key], step.key))

    def _submit_limited(self) -> None:
        deferred: list[tuple[int, str]] = []
        while self.ready_limited:
            entry = heapq.heappop(self.ready_limited)
            if entry[1] in self.reports:
                # Queued twice (its last parent finished while it waited to be offered).
                continue
            step = self.plan.step(entry[1])
            if self.limits.try_acquire(step):
                self._submit(step)
            else:
                deferred.append(entry)
        for entry in deferred:
            heapq.heappush(self.ready_limited, entry)

    def _maybe_release_values(self, step_key: str) -> None:
        # Once every consumer holds the ref (and any write was submitted), the driver lets go,
        # so Ray frees the object when they are done.
        if self.unsubmitted_children[step_key] == 0 and step_key in self.outcome:
            self.values.pop(step_key, None)

    def cancel_pending(self) -> None:
        """Cancel every task still running or queued (Ctrl-C, or the consumer stopped)."""
        for ref in list(self.pending):
            # A task that already finished, or that Ray no longer knows, has nothing to stop.
            with contextlib.suppress(Exception):
                ray.cancel(ref, recursive=True)
        self.pending.clear()

    # -- the wait loop -----------------------------------------------------------------------

    def drive(self) -> Iterator[Event]:
        self.offered.extend(step.key for step in self.plan.steps if not step.upstream_step_keys)
        self._submit_offered()
        self._submit_limited()
        while self.pending:
            if self._cancel_requested():
                self.canceled = True
                self.live.drain(force=True)
                return
            ready = self._wait()
            reports = self._fetch(ready)
            # Running steps' lines; before the reports of steps whose lines went live, and of
            # tasks that died (a killed worker's lines are stored, not lost).
            self.live.drain(force=any(not isinstance(r, StepReport) or r.live for r in reports))
            for ref, report in zip(ready, reports, strict=True):
                kind, step_key = self.pending.pop(ref)
                yield from self._handle(kind, step_key, report)
            self._submit_offered()
            self._submit_limited()
        self.live.drain(force=True)

    def _cancel_requested(self) -> bool:
        should_cancel = self.request.should_cancel
        if should_cancel is None or time.monotonic() - self.cancel_checked_at < 1.0:
            return False
        self.cancel_checked_at = time.monotonic()
        return should_cancel()

    def _wait(self) -> list[Any]:
        """Ready reports: block for the first, then gather what finishes within a few ms.

        Gathering keeps the driver from spinning once per finished task: on a small machine
        every ``ray.wait`` call takes CPU from the workers.
        """
        window = list(itertools.islice(self.pending, _WAIT_WINDOW))
        ready, _ = ray.wait(window, num_returns=1, timeout=1.0, fetch_local=False)
        if not ready and len(self.pending) > len(window):
            window = list(self.pending)
            ready, _ = ray.wait(window, num_returns=1, timeout=1.0, fetch_local=False)
        if ready and len(window) > 1:
            ready, _ = ray.wait(
                window, num_returns=len(window), timeout=_GATHER_S, fetch_local=False
            )
        return ready

    @staticmethod
    def _fetch(refs: list[Any]) -> list[StepReport | BaseException]:
        """The reports behind ``refs`` in one call; a task Ray could not finish gives its error."""
        try:
            return [unpack_report(packed) for packed in ray.get(refs)]
        except (RayError, TaskCancelledError):
            results: list[StepReport | BaseException] = []
            for ref in refs:
                try:
                    results.append(unpack_report(ray.get(ref)))
                except (RayError, TaskCancelledError) as exc:
                    results.append(exc)
            return results

    def _handle(
        self, kind: str, step_key: str, report: StepReport | BaseException
    ) -> Iterator[Event]:
        step = self.plan.step(step_key)
        if isinstance(report, BaseException):
            yield from self._task_lost(step, report)
            return
        if kind == "compute" and report.ray_attempt:
            yield from _lost_attempts(
                self.request.run_id,
                report,
                self.submitted_at.get(step_key, report.started_at),
                self.live.started,
            )
        yield from report.events
        if report.status == "deferred":
            persist_ref = _persist.remote(
                self.run_key, self.request.traceparent, pack_report(report), self.values[step_key]
            )
            self.pending[persist_ref] = ("persist", step_key)
            self._finish_compute(step, "success", persisted=False)
            return
        if report.status == "skipped":
            yield self._skipped(step, report.blocked_by, report.reason)
        if any(isinstance(event, PartitionFailed) for event in report.events):
            self.failed.append(step_key)
        if kind == "compute":
            self._finish_compute(step, report.status, persisted=True)
        elif report.status == "failed":
            self.failed.append(step_key)

    def _finish_compute(self, step: Step, status: str, *, persisted: bool) -> None:
        self.outcome[step.key] = status
        if status == "failed":
            self.failed.append(step.key)
        if self.limits.is_limited(step):
            self.limits.release(step)
        if persisted:
            self._maybe_release_values(step.key)
        for child in self.children[step.key]:
            self.unfinished_parents[child] -= 1
            if self.unfinished_parents[child] == 0 and self.unsubmitted_parents[child] == 0:
                child_step = self.plan.step(child)
                if self.limits.is_limited(child_step):
                    heapq.heappush(self.ready_limited, (self.index[child], child))

    def _skipped(
        self, step: Step, blocked_by: tuple[tuple[str, str], ...], reason: str = ""
    ) -> StepSkipped:
        reasons = ", ".join(f"{key!r} {status}" for key, status in blocked_by)
        return StepSkipped(
            run_id=self.request.run_id,
            step_key=step.key,
            reason=f"upstream {reason}" if reason else f"upstream step {reasons}",
            upstream_step_keys=tuple(key for key, _ in blocked_by),
        )

    def _task_lost(self, step: Step, exc: BaseException) -> Iterator[Event]:
        """A task Ray could not complete: its worker died past all retries, or it was cancelled."""
        blocked = tuple(
            (key, self.outcome[key])
            for key in step.upstream_step_keys
            if self.outcome.get(key) in ("failed", "skipped")
        )
        if blocked:
            yield self._skipped(step, blocked)
            self._finish_compute(step, "skipped", persisted=True)
            return
        if step.key not in self.outcome and (step.key, 1) not in self.live.started:
            # No attempt reported back, so none recorded its start: date it from submission.
            yield StepStarted(
                run_id=self.request.run_id,
                timestamp=self.submitted_at.get(step.key, time.time()),
                step_key=step.key,
                attempt=1,
            )
        yield StepFailed(
            run_id=self.request.run_id,
            step_key=step.key,
            attempt=1,
            error=ErrorInfo.from_exception(exc),
        )
        if step.key in self.outcome:  # the persist task was lost; compute had finished
            self.failed.append(step.key)
        else:
            self._finish_compute(step, "failed", persisted=True)


def _lost_attempts(
    run_id: str, report: StepReport, submitted_at: float, started: set[tuple[str, int]]
) -> Iterator[Event]:
    """Record attempts whose worker died before reporting (Ray re-ran the task).

    They are dated from the step's submission to the start of the attempt that reported
    (the driver cannot know more; several lost attempts share that window). Attempts in
    ``started`` already sent their `StepStarted` with live log lines.
    """
    ended_at = report.started_at or time.time()
    for attempt in range(1, report.ray_attempt + 1):
        if (report.step_key, attempt) not in started:
            yield StepStarted(
                run_id=run_id, timestamp=submitted_at, step_key=report.step_key, attempt=attempt
            )
        yield StepRetrying(
            run_id=run_id,
            timestamp=ended_at,
            step_key=report.step_key,
            attempt=attempt,
            error=ErrorInfo(
                type_name="WorkerDied",
                message=(
                    f"the worker running attempt {attempt} of step {report.step_key!r} died "
                    "(killed, or out of memory); Ray ran the step again"
                ),
                traceback="",
            ),
        )
