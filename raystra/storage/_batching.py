"""Buffer events and store them in batches, so a step costs a fraction of a transaction."""

from __future__ import annotations

import contextlib
import threading
import time
from types import TracebackType

from raystra.events import Event, RunCanceled, RunFailed, RunSucceeded
from raystra.storage._base import RunStorage

__all__ = ["BatchingEventWriter"]

_TERMINAL = (RunSucceeded, RunFailed, RunCanceled)


class BatchingEventWriter:
    """Write events to a storage in batches.

    A batch is stored when it reaches ``max_batch`` events, when its oldest event has waited
    ``max_delay_s`` (checked on each `write`, so there is no background thread), and at once
    for a run-terminal event, so a finished run is never shown as in progress. `close` (or
    leaving the ``with`` block, even on an exception) stores what is left. With
    ``background=True`` a thread also stores events that waited ``max_delay_s`` while no write
    came (a long step's ``StepStarted`` shows up at once, and survives a killed driver).

    If the storage raises, the batch stays buffered and the next flush tries it again.
    Safe to share between threads.

    Args:
        storage: Where batches go, through `RunStorage.store_events`.
        max_batch: Most events per batch.
        max_delay_s: Longest time an event waits in the buffer while writes keep coming.
        background: Also flush waiting events from a background thread.

    Example:
        >>> from raystra.events import RunStarted, RunSucceeded
        >>> with BatchingEventWriter(storage) as writer:  # doctest: +SKIP
        ...     writer.write(RunStarted(run_id="r1"))
        ...     writer.write(RunSucceeded(run_id="r1"))  # stored now, with RunStarted
    """

    def __init__(
        self,
        storage: RunStorage,
        *,
        max_batch: int = 500,
        max_delay_s: float = 0.5,
        background: bool = False,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}.")
        self._storage = storage
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._buffer: list[Event] = []
        self._oldest_at = 0.0
        self._closed = False
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._flusher: threading.Thread | None = None
        if background:
            self._flusher = threading.Thread(
                target=self._flush_waiting, name="raystra-event-flush", daemon=True
            )
            self._flusher.start()

    def _flush_waiting(self) -> None:
        while not self._stopped.wait(self._max_delay_s):
            with self._lock:
                if self._buffer and time.monotonic() - self._oldest_at >= self._max_delay_s:
                    # A failed store keeps the batch buffered: the next flush retries it.
                    with contextlib.suppress(Exception):
                        self._flush_locked()

    def write(self, event: Event) -> None:
        """Buffer ``event``, storing the buffer if it is full, old, or the run just ended."""
        with self._lock:
            if self._closed:
                raise RuntimeError(
                    f"BatchingEventWriter is closed; cannot write {event.kind} of run "
                    f"{event.run_id!r}. Write events before closing the writer."
                )
            if not self._buffer:
                self._oldest_at = time.monotonic()
            self._buffer.append(event)
            if (
                isinstance(event, _TERMINAL)
                or len(self._buffer) >= self._max_batch
                or time.monotonic() - self._oldest_at >= self._max_delay_s
            ):
                self._flush_locked()

    def flush(self) -> None:
        """Store every buffered event now."""
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        """Store what is buffered; later writes raise."""
        self._stopped.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        with self._lock:
            self._flush_locked()
            self._closed = True

    def __enter__(self) -> BatchingEventWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _flush_locked(self) -> None:
        if not self._buffer:
            return
        self._storage.store_events(self._buffer)
        # Cleared only once stored: a failed batch is retried by the next flush.
        self._buffer = []
