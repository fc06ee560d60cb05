"""Run observers: driver-side consumers of a run's events (traces, metrics, OpenLineage).

The executor yields events; the API layer stores them in batches and hands each stored batch
to the run's observers, in order, from the event writer (`BatchingEventWriter`'s
``on_stored``): off the executor's loop, within the writer's delay (half a second; at once for
a run's terminal event). Observers see the same events storage does, and only once it has
them, so what they report always matches `raystra runs show`. A run with no observer
configured pays nothing: the list is empty.

An observer must never fail a run: `ObserverGroup` logs and drops an observer that raises.

Example:
    >>> class Counter(RunObserver):
    ...     def __init__(self) -> None:
    ...         self.seen = 0
    ...     def observe(self, event: Event) -> None:
    ...         self.seen += 1
    >>> counter = Counter()
    >>> group = ObserverGroup([counter])
    >>> group.observe(RunSucceeded(run_id="r1"))
    >>> counter.seen
    1
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from raystra.definitions import AssetKey, Definitions
from raystra.events import (
    Event,
    RunStatus,
    RunSucceeded,  # noqa: F401 - used by the doctests
)
from raystra.planning import ExecutionPlan

__all__ = ["ObservedRun", "ObserverGroup", "RunObserver"]

_log = logging.getLogger("raystra.observability")


@dataclass(frozen=True)
class ObservedRun:
    """What observers know about a run when it starts.

    ``traceparent`` is the run's W3C trace context (``00-<trace id>-<span id>-01``) when
    tracing is on: created with the run, stored with it, and passed to every task.
    """

    run_id: str
    plan: ExecutionPlan
    definitions: Definitions
    executor: str = "in_process"
    job_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    traceparent: str | None = None
    # Asset -> (storage path of its latest materialization, whether it is partitioned), read
    # from run storage; names inputs whose producer did not run in this run.
    stored_path: Callable[[AssetKey], tuple[str, bool] | None] | None = None


class RunObserver:
    """Base class of run observers; override what you need (every hook defaults to nothing).

    Example:
        >>> class Printer(RunObserver):
        ...     def observe(self, event: Event) -> None:
        ...         print(event.kind)
        >>> Printer().observe(RunSucceeded(run_id="r1"))
        RunSucceeded
    """

    def traceparent(self) -> str | None:
        """The W3C trace context this observer gives the run (tracing only), asked first."""
        return None

    def run_started(self, run: ObservedRun) -> None:
        """The run was recorded and is about to execute."""

    def observe(self, event: Event) -> None:
        """One event of the run, in the order storage received it."""

    def run_finished(self, status: RunStatus) -> None:
        """The run ended with ``status``; flush anything buffered."""


class ObserverGroup(RunObserver):
    """Fans hooks out to several observers, isolating the run from their failures."""

    def __init__(self, observers: Sequence[RunObserver]) -> None:
        self.observers = list(observers)

    def __bool__(self) -> bool:
        return bool(self.observers)

    def traceparent(self) -> str | None:
        """The first trace context an observer offers (None when nothing traces)."""
        for observer in self.observers:
            offered = observer.traceparent()
            if offered is not None:
                return offered
        return None

    def run_started(self, run: ObservedRun) -> None:
        """Call every observer's `RunObserver.run_started`."""
        for observer in list(self.observers):
            self._call(observer, "run_started", run)

    def observe(self, event: Event) -> None:
        """Call every observer's `RunObserver.observe`."""
        self.observe_batch((event,))

    def observe_batch(self, events: Sequence[Event]) -> None:
        """`observe` each of ``events`` in order, one observer at a time.

        Each observer takes the whole batch before the next starts, so its code stays warm
        across the batch: per event, that costs the tracing and metrics observers less than
        being called once per event between everything else the driver does.

        Example:
            >>> class Kinds(RunObserver):
            ...     def __init__(self) -> None:
            ...         self.kinds: list[str] = []
            ...     def observe(self, event: Event) -> None:
            ...         self.kinds.append(event.kind)
            >>> kinds = Kinds()
            >>> ObserverGroup([kinds]).observe_batch([RunSucceeded(run_id="r1")] * 2)
            >>> kinds.kinds
            ['RunSucceeded', 'RunSucceeded']
        """
        for observer in list(self.observers):
            try:
                for event in events:
                    observer.observe(event)
            except Exception:
                self._drop(observer, "observe")

    def run_finished(self, status: RunStatus) -> None:
        """Call every observer's `RunObserver.run_finished`."""
        for observer in list(self.observers):
            self._call(observer, "run_finished", status)

    def _call(self, observer: RunObserver, hook: str, argument: object) -> None:
        try:
            getattr(observer, hook)(argument)
        except Exception:
            self._drop(observer, hook)

    def _drop(self, observer: RunObserver, hook: str) -> None:
        # Telemetry must never fail the run it describes: report once, stop calling it.
        _log.warning(
            "run observer %s failed in %s and was disabled for this run",
            type(observer).__name__,
            hook,
            exc_info=True,
        )
        if observer in self.observers:
            self.observers.remove(observer)
