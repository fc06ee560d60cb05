"""Capture a step's ``context.log`` records and its stdout/stderr as `LogMessage` events."""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from raystra.events import LogMessage, now, redact
from raystra.observability import _live_logs
from raystra.observability._live_logs import LiveSink

__all__ = ["StepLogCapture"]

_MAX_LINE_CHARS = 16_000  # one runaway print must not bloat the event log


_MESSAGE_ONLY = logging.Formatter("%(message)s")  # message, then any traceback


class _EventHandler(logging.Handler):
    """Turns records of one step's logger into events.

    ``logging.Handler.__init__`` is skipped on purpose: it registers every handler in a global
    list and creates a lock, which costs more than a trivial step's work, and this handler is
    used by one step attempt only and never shared between threads.
    """

    def __init__(self, emit_line: Callable[[str, str, str], None]) -> None:
        self._name = None
        self.level = logging.DEBUG
        self.filters = []
        self.formatter = _MESSAGE_ONLY
        self.lock = None  # Handler.acquire/release do nothing without one
        self._closed = False
        self._emit_line = emit_line

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit_line(self.format(record), record.levelname, "log")
        except Exception:  # logging must never break the step
            self.handleError(record)


class _LineStream(io.TextIOBase):
    """A text stream that turns each written line into an event."""

    def __init__(self, emit_line: Callable[[str, str, str], None], source: str) -> None:
        self._emit_line = emit_line
        self._source = source
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._emit(line)
        return len(text)

    def flush_pending(self) -> None:
        if self._buffer:
            self._emit(self._buffer)
            self._buffer = ""

    def _emit(self, line: str) -> None:
        level = "ERROR" if self._source == "stderr" else "INFO"
        self._emit_line(line, level, self._source)


class StepLogCapture:
    """Collects one step attempt's log lines as `LogMessage` events, secrets redacted.

    ``logger`` is a real `logging.Logger` (handed to user code as ``context.log``) that is not
    registered globally, so steps never leak handlers into each other.

    With a ``live`` sink, lines also go to it while the step runs (at most every
    `raystra.observability._live_logs.FLUSH_INTERVAL_S`, from a shared daemon thread, once the
    capture is ``live_after_s`` old); `take_unsent` returns the lines it did not get.

    Example:
        >>> capture = StepLogCapture(run_id="r1", step_key="orders")
        >>> capture.logger.info("loaded %d rows", 3)
        >>> [e.message for e in capture.events]
        ['loaded 3 rows']
    """

    def __init__(
        self,
        *,
        run_id: str,
        step_key: str,
        secrets: tuple[str, ...] = (),
        traceparent: str | None = None,
        live: LiveSink | None = None,
        live_after_s: float = 0.0,
    ) -> None:
        self.run_id = run_id
        self.step_key = step_key
        self.secrets = secrets
        # Lines carry the trace and span they were logged under (``traceparent`` is the step
        # attempt's span), so a log backend can jump to the trace.
        self.trace_id, self.span_id = ("", "")
        if traceparent is not None:
            self.trace_id, self.span_id = traceparent.split("-")[1:3]
        self.events: list[LogMessage] = []
        # Live lines (see `_live_logs`): with a sink, lines go out while the step runs, once
        # it has run ``live_after_s``; ``live_sent`` of them went already.
        self.live = live
        self.live_sent = 0
        self.live_sending = False  # the live-log thread is sending some now
        self.live_from = time.monotonic() + live_after_s if live is not None else 0.0
        self._live_registered = False
        self.logger = logging.Logger(f"raystra.step.{step_key}", level=logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(_EventHandler(self._emit_line))

    def add_secrets(self, secrets: tuple[str, ...]) -> None:
        """Redact these values too, from now on."""
        self.secrets = (*self.secrets, *secrets)

    def take_unsent(self) -> list[LogMessage]:
        """The lines not yet sent live, in order, marked sent; no live flush follows.

        Without a sink that is every line. Call it once the attempt ended.

        Example:
            >>> capture = StepLogCapture(run_id="r1", step_key="orders")
            >>> capture.logger.info("done")
            >>> [e.message for e in capture.take_unsent()], capture.take_unsent()
            (['done'], [])
        """
        if self._live_registered:
            return _live_logs.take_unsent(self)
        unsent = self.events[self.live_sent :]
        self.live_sent = len(self.events)
        return unsent

    def stop_live(self) -> None:
        """Send no more lines live (the attempt ended); `take_unsent` returns the rest."""
        if self._live_registered:
            _live_logs.unregister(self)

    def _emit_line(self, message: str, level: str, source: str) -> None:
        if len(message) > _MAX_LINE_CHARS:
            message = message[:_MAX_LINE_CHARS] + " …[truncated]"
        self.events.append(
            LogMessage(
                run_id=self.run_id,
                timestamp=now(),
                step_key=self.step_key,
                message=redact(message, self.secrets),
                level=level,
                source=source,
                trace_id=self.trace_id,
                span_id=self.span_id,
            )
        )
        if self.live is not None and not self._live_registered:
            self._live_registered = True
            _live_logs.register(self)

    def capture_output(self) -> _OutputRedirect:
        """Redirect this thread's ``sys.stdout``/``sys.stderr`` into events while inside."""
        return _OutputRedirect(self._emit_line)


class _OutputRedirect:
    """`StepLogCapture.capture_output`'s context manager: a class, not a generator, since it
    wraps every step's compute and writes (a generator-based one costs several times more)."""

    __slots__ = ("_err", "_out", "_previous")

    def __init__(self, emit_line: Callable[[str, str, str], None]) -> None:
        self._out = _LineStream(emit_line, "stdout")
        self._err = _LineStream(emit_line, "stderr")
        self._previous: tuple[TextIO, TextIO] | None = None

    def __enter__(self) -> None:
        self._previous = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = self._out, self._err

    def __exit__(self, *exc_info: object) -> None:
        assert self._previous is not None
        sys.stdout, sys.stderr = self._previous
        self._out.flush_pending()
        self._err.flush_pending()
