"""Capture a step's ``context.log`` records and its stdout/stderr as `LogMessage` events."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

from raystra.events import LogMessage, now, redact

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
        self.logger = logging.Logger(f"raystra.step.{step_key}", level=logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(_EventHandler(self._emit_line))

    def add_secrets(self, secrets: tuple[str, ...]) -> None:
        """Redact these values too, from now on."""
        self.secrets = (*self.secrets, *secrets)

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

    @contextlib.contextmanager
    def capture_output(self) -> Iterator[None]:
        """Redirect this thread's ``sys.stdout``/``sys.stderr`` into events while inside."""
        out, err = _LineStream(self._emit_line, "stdout"), _LineStream(self._emit_line, "stderr")
        previous: tuple[TextIO, TextIO] = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = out, err
        try:
            yield
        finally:
            sys.stdout, sys.stderr = previous
            out.flush_pending()
            err.flush_pending()
