"""Recording a step's child spans where it runs, cheaply, without the OpenTelemetry SDK.

A step attempt's phases (loading each input, compute, writing each output) are timed where the
step runs, in a Ray worker on any node, as plain tuples; the executor ships them to the driver
with the step's report, and the driver's `TracingObserver` exports them as children of the step
span. The step span's id is derived from the run's trace id, the step key and the attempt
(`step_span_id`), so a worker knows its parent from the ``traceparent`` it was handed and the
driver can emit the step span itself, from events, even for an attempt whose worker was killed.

Shipping spans with the report, instead of an exporter in every worker, means no exporter
configuration or credentials on the workers and no spans lost when a worker exits between
batches.

Example:
    >>> recorder = SpanRecorder(new_traceparent(), "orders", attempt=1)
    >>> with recorder.span("raystra.compute"):
    ...     pass
    >>> [span.name for span in recorder.spans]
    ['raystra.compute']
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from raystra.events import StepSpans

__all__ = [
    "RecordedSpan",
    "SpanRecorder",
    "new_traceparent",
    "parse_traceparent",
    "step_span_id",
    "step_traceparent",
]


def new_traceparent() -> str:
    """A fresh W3C traceparent for a run: random trace id, random root span id, sampled.

    Example:
        >>> len(new_traceparent())
        55
    """
    trace_id = secrets.randbits(128) or 1
    span_id = secrets.randbits(64) or 1
    return f"00-{trace_id:032x}-{span_id:016x}-01"


# Every step of a run parses the same traceparent: parsed once per worker, not per step.
@functools.lru_cache(maxsize=256)
def parse_traceparent(traceparent: str) -> tuple[int, int]:
    """(trace id, span id) of a W3C traceparent.

    Example:
        >>> parse_traceparent("00-" + "0" * 31 + "1-" + "0" * 15 + "2-01")
        (1, 2)
    """
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        raise ValueError(
            f"Not a W3C traceparent: {traceparent!r} (expected 00-<32 hex>-<16 hex>-<flags>)."
        )
    return int(parts[1], 16), int(parts[2], 16)


def step_span_id(trace_id: int, step_key: str, attempt: int) -> int:
    """The span id of one attempt of a step: the same wherever it is computed.

    Example:
        >>> step_span_id(1, "orders", 1) == step_span_id(1, "orders", 1)
        True
        >>> step_span_id(1, "orders", 1) != step_span_id(1, "orders", 2)
        True
    """
    digest = hashlib.blake2b(
        f"{trace_id:032x}/{step_key}/{attempt}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") or 1


def step_traceparent(traceparent: str, step_key: str, attempt: int) -> str:
    """The traceparent of a step attempt's span, to hand to code that creates its own spans.

    Example:
        >>> run = new_traceparent()
        >>> step_traceparent(run, "orders", 1).split("-")[1] == run.split("-")[1]
        True
    """
    trace_id, _ = parse_traceparent(traceparent)
    return f"00-{trace_id:032x}-{step_span_id(trace_id, step_key, attempt):016x}-01"


class RecordedSpan(NamedTuple):
    """One finished child span of a step attempt, as recorded where the step ran.

    Times are nanoseconds since the epoch; ``error`` is ``(exception type, message)`` when the
    phase raised.
    """

    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    error: tuple[str, str] | None = None


class SpanRecorder:
    """Times the phases of one step attempt as `RecordedSpan` tuples.

    Args:
        traceparent: the run's W3C traceparent, as handed to the task.
        step_key: the step being run.
        attempt: the attempt number (1 for the first).
    """

    __slots__ = ("_step_traceparent", "attempt", "spans", "step_key", "traceparent")

    def __init__(self, traceparent: str, step_key: str, attempt: int) -> None:
        self.traceparent = traceparent
        self.step_key = step_key
        self.attempt = attempt
        self.spans: list[RecordedSpan] = []
        self._step_traceparent: str | None = None

    def span(self, name: str, **attributes: Any) -> _SpanTimer:
        """Time the block as a span called ``name``; the dict it yields takes more attributes.

        An exception leaving the block marks the span as failed and propagates.
        """
        return _SpanTimer(self.spans, name, attributes)

    def spans_event(self, run_id: str) -> StepSpans:
        """The recorded spans as the `StepSpans` event the step's report carries.

        The spans go as plain tuples (`RecordedSpan`'s fields, in order): a report is pickled
        on every traced step, and a named tuple costs several times a plain one to pickle and
        to load.
        """
        return StepSpans(
            run_id=run_id,
            step_key=self.step_key,
            attempt=self.attempt,
            spans=tuple(tuple(span) for span in self.spans),
        )

    @property
    def step_traceparent(self) -> str:
        """The traceparent of this attempt's step span (see `step_traceparent`)."""
        if self._step_traceparent is None:
            self._step_traceparent = step_traceparent(self.traceparent, self.step_key, self.attempt)
        return self._step_traceparent


class _SpanTimer:
    """`SpanRecorder.span`'s context manager: a class, not a generator, since every traced
    step enters at least one (a generator-based one costs several times more)."""

    __slots__ = ("_attributes", "_name", "_spans", "_start")

    def __init__(self, spans: list[RecordedSpan], name: str, attributes: dict[str, Any]) -> None:
        self._spans = spans
        self._name = name
        self._attributes = attributes  # the caller's own ``**attributes`` dict, not shared
        self._start = 0

    def __enter__(self) -> dict[str, Any]:
        self._start = time.time_ns()
        return self._attributes

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        error = None if exc is None else (type(exc).__name__, str(exc)[:1000])
        self._spans.append(
            RecordedSpan(self._name, self._start, time.time_ns(), self._attributes, error)
        )
