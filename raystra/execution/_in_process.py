"""The in-process executor: steps one after another in this process (debugging, unit tests)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from raystra.events import (
    Event,
    PartitionFailed,
    RunCanceled,
    RunFailed,
    RunStarted,
    RunSucceeded,
    StepSkipped,
)
from raystra.execution._executor import Executor, RunRequest
from raystra.execution._handoff import gather_upstream
from raystra.execution._step_runner import step_events
from raystra.planning import ExecutionPlan

__all__ = ["InProcessExecutor"]


class InProcessExecutor(Executor):
    """Runs each step in the calling process, in topological order.

    Values are handed from step to step in memory and released once every consumer ran. A
    failed step's dependents are skipped; independent steps still run.

    Example:
        >>> from raystra import Definitions, asset
        >>> from raystra.planning import build_asset_plan
        >>> @asset
        ... def one() -> int:
        ...     return 1
        >>> from raystra.definitions import InMemoryIOManager
        >>> defs = Definitions([one], resources={"io_manager": InMemoryIOManager()})
        >>> plan = build_asset_plan(defs, defs.topological_keys)
        >>> request = RunRequest(run_id="r", definitions=defs)
        >>> [e.kind for e in InProcessExecutor().execute(plan, request)][-1]
        'RunSucceeded'
    """

    name = "in_process"

    def __init__(self, *, sleep: Callable[[float], Any] = time.sleep) -> None:
        self._sleep = sleep

    def execute(self, plan: ExecutionPlan, request: RunRequest) -> Iterator[Event]:
        run_id = request.run_id
        yield RunStarted(run_id=run_id, step_keys=plan.step_keys, executor=self.name)
        consumers = plan.downstream()
        remaining_consumers = {key: len(kids) for key, kids in consumers.items()}
        values: dict[str, dict[str, Any]] = {}
        not_done: dict[str, str] = {}  # step key -> "failed" | "skipped"
        failed: list[str] = []
        for step in plan.steps:
            if request.should_cancel is not None and request.should_cancel():
                yield RunCanceled(run_id=run_id, reason="canceled on request")
                return
            blocked = [key for key in step.upstream_step_keys if key in not_done]
            if blocked:
                not_done[step.key] = "skipped"
                reasons = ", ".join(f"{key!r} {not_done[key]}" for key in blocked)
                yield StepSkipped(
                    run_id=run_id,
                    step_key=step.key,
                    reason=f"upstream step {reasons}",
                    upstream_step_keys=tuple(blocked),
                )
                continue
            upstream_values, missing = gather_upstream(step, values.get)
            if missing:
                not_done[step.key] = "skipped"
                yield StepSkipped(
                    run_id=run_id,
                    step_key=step.key,
                    reason="upstream " + "; ".join(missing[:3]),
                    upstream_step_keys=step.upstream_step_keys,
                )
                continue
            events = step_events(
                request.definitions,
                step,
                run_id=run_id,
                config=request.step_config.get(step.node_step_key),
                upstream_values=upstream_values,
                sleep=self._sleep,
                traceparent=request.traceparent,
                live=request.live_events,
            )
            partition_failed = False
            while True:
                try:
                    event = next(events)
                except StopIteration as done:
                    outcome = done.value
                    break
                partition_failed |= isinstance(event, PartitionFailed)
                yield event
            if partition_failed:
                failed.append(step.key)
            if outcome.success:
                if remaining_consumers[step.key]:
                    values[step.key] = outcome.outputs
            else:
                not_done[step.key] = "failed"
                failed.append(step.key)
            for parent in step.upstream_step_keys:
                remaining_consumers[parent] -= 1
                if remaining_consumers[parent] == 0:
                    values.pop(parent, None)  # every consumer ran: free the memory
        if failed:
            yield RunFailed(
                run_id=run_id,
                failed_step_keys=tuple(failed),
                reason=f"{len(failed)} step(s) failed: {', '.join(failed)}",
            )
        else:
            yield RunSucceeded(run_id=run_id)
