"""Live step logs: a running step's lines reach the run's sink before the step ends.

A `StepLogCapture` given a sink registers here when its first line is logged (steps that log
nothing never do). One daemon thread per process then hands each registered capture's new
lines to its sink every `FLUSH_INTERVAL_S`, including lines followed by silence. When the
step attempt ends, `take_unsent` unregisters the capture and returns the lines no flush sent,
so every line reaches the run's events exactly once, in order.

Bookkeeping is under one process-wide lock, never held while a sink runs (a sink may write
to storage, or print into another step's capture). A capture ending waits for a send of its
lines in progress, so its remaining lines never overtake the sent ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from raystra.events import Event, LogMessage

if TYPE_CHECKING:
    from raystra.observability._log_capture import StepLogCapture

__all__ = ["FLUSH_INTERVAL_S", "LiveSink", "register", "take_unsent", "unregister"]

LiveSink = Callable[[Sequence[Event]], None]
"""Takes a batch of a running step's events; must be safe to call from another thread."""

FLUSH_INTERVAL_S = 0.5  # how often registered captures' new lines go to their sinks

_logger = logging.getLogger("raystra.live_logs")
_lock = threading.Lock()
_sent = threading.Condition(_lock)  # notified when a send ends
_active: set[StepLogCapture] = set()
_has_work = threading.Event()  # set while a capture is registered: the flusher then ticks
_flusher: threading.Thread | None = None


def register(capture: StepLogCapture) -> None:
    """Flush ``capture``'s new lines to its sink from now on, until it is unregistered.

    Example:
        >>> capture = StepLogCapture(run_id="r", step_key="s", live=print)  # doctest: +SKIP
        >>> register(capture)  # doctest: +SKIP  (the capture does this on its first line)
    """
    global _flusher
    with _lock:
        _active.add(capture)
        _has_work.set()
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(
                target=_flush_forever, name="raystra-live-logs", daemon=True
            )
            _flusher.start()


def unregister(capture: StepLogCapture) -> None:
    """Stop flushing ``capture`` (its unsent lines stay with it, for `take_unsent`)."""
    with _lock:
        _active.discard(capture)


def take_unsent(capture: StepLogCapture) -> list[LogMessage]:
    """Unregister ``capture`` and return, in order, the lines no flush sent; marks them sent.

    Example:
        >>> take_unsent(capture)  # doctest: +SKIP
        [LogMessage(... message='done' ...)]
    """
    with _sent:
        _active.discard(capture)
        while capture.live_sending:
            _sent.wait()
        unsent = capture.events[capture.live_sent :]
        capture.live_sent += len(unsent)
    return unsent


def _flush_forever() -> None:
    while True:
        _has_work.wait()
        time.sleep(FLUSH_INTERVAL_S)
        now = time.monotonic()
        with _lock:
            # A slice is taken atomically while the step's thread may be appending.
            due = [(c, c.events[c.live_sent :]) for c in _active if c.live_from <= now]
            due = [(capture, batch) for capture, batch in due if batch]
            for capture, _ in due:
                capture.live_sending = True
        for capture, batch in due:
            sent = _send(capture, batch)
            with _sent:
                capture.live_sending = False
                if sent:
                    capture.live_sent += len(batch)
                else:
                    _active.discard(capture)
                _sent.notify_all()
        with _lock:
            if not _active:
                _has_work.clear()  # sleep until a capture registers again


def _send(capture: StepLogCapture, batch: list[LogMessage]) -> bool:
    assert capture.live is not None  # only captures with a sink register
    try:
        capture.live(batch)
    except Exception:
        # The lines stay unsent and reach the run at the step's end, as without live logs.
        _logger.warning(
            "Could not send live log lines of step %r (they are recorded when it ends)",
            capture.step_key,
            exc_info=True,
        )
        return False
    return True
