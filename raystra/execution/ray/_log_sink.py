"""Live step logs on Ray: a running step's lines go to the driver before its task ends.

A worker's step that still runs after `LIVE_AFTER_S` and has new lines puts them, as one
pickled batch, in the Ray cluster's key-value store (the GCS, which every node reaches and
which outlives any worker) under ``live/<run id>/<process>/<sequence>``. The driver's wait
loop lists the run's keys about once a second, takes them in order and hands the lines to the
run's live sink (`RunRequest.live_events`).

Why the key-value store, not an actor: nothing to create or keep alive (an actor dies with the
worker that created it), no CPU to reserve, and a batch put before its worker was killed
stays there for the driver. A task waits for its puts (they run on the live-log thread), so
when its report is ready its lines are all stored; the driver drains before handling the
report, keeping a step's lines before its end events.
"""

from __future__ import annotations

import contextlib
import itertools
import pickle
import time
import uuid
from collections.abc import Sequence

from ray.experimental import internal_kv

from raystra.events import Event, StepStarted
from raystra.observability._live_logs import LiveSink

__all__ = ["LIVE_AFTER_S", "LiveDrain", "pushes", "worker_sink"]

LIVE_AFTER_S = 1.0  # a shorter step's lines travel in its report, at no extra cost
_DRAIN_EVERY_S = 1.0
_NAMESPACE = "raystra"
_PROCESS = uuid.uuid4().hex[:16]  # keys of one worker process sort in push order
_sequence = itertools.count()
_pushed = [0]  # batches this process put (a task compares before and after)


def worker_sink(run_id: str) -> LiveSink:
    """The live sink a worker's steps of run ``run_id`` use.

    Example:
        >>> sink = worker_sink("3f2a")  # doctest: +SKIP
        >>> line = LogMessage(run_id="3f2a", step_key="orders", message="x")  # doctest: +SKIP
        >>> sink([line])  # doctest: +SKIP
    """

    def put(batch: Sequence[Event]) -> None:
        key = f"live/{run_id}/{_PROCESS}/{next(_sequence):012d}"
        blob = pickle.dumps(tuple(batch), protocol=pickle.HIGHEST_PROTOCOL)
        internal_kv._internal_kv_put(key, blob, namespace=_NAMESPACE)
        _pushed[0] += 1

    return put


def pushes() -> int:
    """How many live batches this process put so far."""
    return _pushed[0]


class LiveDrain:
    """The driver side of one run: moves the run's stored live lines to its sink.

    Example:
        >>> drain = LiveDrain("3f2a", request.live_events)  # doctest: +SKIP
        >>> drain.drain(force=True)  # doctest: +SKIP
    """

    def __init__(self, run_id: str, sink: LiveSink | None) -> None:
        self._prefix = f"live/{run_id}/"
        self._sink = sink
        self._drained_at = time.monotonic()
        # (step key, attempt) of every StepStarted that came live: a killed worker's attempt
        # is then not started a second time when the driver records it lost.
        self.started: set[tuple[str, int]] = set()

    def drain(self, *, force: bool = False) -> None:
        """Hand stored lines to the sink, at most once a second unless ``force``."""
        if self._sink is None:
            return
        if not force and time.monotonic() - self._drained_at < _DRAIN_EVERY_S:
            return
        self._drained_at = time.monotonic()
        keys = sorted(internal_kv._internal_kv_list(self._prefix, namespace=_NAMESPACE))
        for key in keys:
            blob = internal_kv._internal_kv_get(key, namespace=_NAMESPACE)
            if blob is not None:
                batch: tuple[Event, ...] = pickle.loads(blob)
                self.started.update(
                    (e.step_key, e.attempt) for e in batch if isinstance(e, StepStarted)
                )
                self._sink(batch)
            internal_kv._internal_kv_del(key, namespace=_NAMESPACE)

    def discard(self) -> None:
        """Delete what is left of the run's lines (the run ended; a no-op once Ray is gone)."""
        if self._sink is None:
            return
        with contextlib.suppress(Exception):
            if internal_kv._internal_kv_initialized():  # type: ignore[no-untyped-call]
                internal_kv._internal_kv_del(self._prefix, del_by_prefix=True, namespace=_NAMESPACE)
