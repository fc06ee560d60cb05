"""The executor contract: ``execute(plan, ...) -> Iterator[Event]``."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions import Definitions
from raystra.events import Event
from raystra.planning import ExecutionPlan

__all__ = ["Executor", "RunRequest"]


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """What an executor needs besides the plan: the run id, definitions and step config."""

    run_id: str
    definitions: Definitions
    step_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    max_concurrent: int | None = None
    # Asked about once a second while the run goes on; True stops the run as CANCELED (e.g.
    # `raystra backfill cancel` from another process).
    should_cancel: Callable[[], bool] | None = None
    # The run's W3C traceparent when the run is traced: executors hand it to every step, which
    # then records its phases as spans (`raystra.events.StepSpans`).
    traceparent: str | None = None
    # Where steps' log lines go while the steps still run (live logs), from any thread; lines
    # sent here are not yielded again. None: every line comes with its step's end events.
    live_events: Callable[[Sequence[Event]], None] | None = None


class Executor(abc.ABC):
    """Runs a plan and yields its events, from ``RunStarted`` to a run-terminal event.

    An executor owns ordering, parallelism and skip propagation; a step's own work (inputs,
    compute, outputs, retries) is `raystra.execution.run_step`. It never writes to storage: the
    caller consumes the events.

    Example:
        >>> class Nothing(Executor):
        ...     name = "nothing"
        ...     def execute(self, plan, request):
        ...         return iter(())
    """

    name: str = "executor"

    @abc.abstractmethod
    def execute(self, plan: ExecutionPlan, request: RunRequest) -> Iterator[Event]:
        """Run ``plan``; yield every event in the order things happened."""
