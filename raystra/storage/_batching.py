"""Buffer events and store them in batches, so a step costs a fraction of a transaction."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
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
    ``background=True`` a thread stores full and old batches instead of the writer (the
    executor's loop goes on handling reports while the database commits), and also stores
    events that waited ``max_delay_s`` while no write came (a long step's ``StepStarted``
    shows up at once, and survives a killed driver); a run-terminal event is still stored
    before `write` returns.

    If the storage raises, the batch stays buffered and the next flush tries it again.
    Safe to share between threads.

    With ``on_stored``, each batch is handed to it once stored, whole and in write order
    (one call at a time), including events storage does not keep (``Event.stored`` false:
    telemetry such as `raystra.events.StepSpans`), which pass through unstored. The run's
    observers take their events this way: in batches, off the executor's loop, and only once
    `raystra runs show` can see them. It must not raise (`ObserverGroup` does not).

    Args:
        storage: Where batches go, through `RunStorage.store_events`.
        max_batch: Most events per batch.
        max_delay_s: Longest time an event waits in the buffer while writes keep coming.
        background: Also flush waiting events from a background thread.
        on_stored: Called with every batch after it was stored.

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
        on_stored: Callable[[Sequence[Event]], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}.")
        self._storage = storage
        self._on_stored = on_stored
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._buffer: list[Event] = []
        self._oldest_at = 0.0
        self._closed = False
        self._lock = threading.Lock()  # guards the buffer
        # One store at a time, in order; taken before ``_lock``, never while holding it.
        self._store_lock = threading.Lock()
        self._unstored: list[Event] = []  # taken from the buffer, not yet stored (retried)
        self._stopped = threading.Event()
        self._wake = threading.Event()  # a full or old batch is waiting for the thread
        self._flusher: threading.Thread | None = None
        if background:
            self._flusher = threading.Thread(
                target=self._flush_waiting, name="raystra-event-flush", daemon=True
            )
            self._flusher.start()

    def _flush_waiting(self) -> None:
        while not self._stopped.is_set():
            woken = self._wake.wait(self._max_delay_s)
            self._wake.clear()
            if self._stopped.is_set():
                return
            with self._lock:
                due = bool(self._buffer) and (
                    woken or time.monotonic() - self._oldest_at >= self._max_delay_s
                )
            if due:
                # A failed store keeps the batch: the next flush retries it.
                with contextlib.suppress(Exception):
                    self.flush()

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
            terminal = isinstance(event, _TERMINAL)
            due = (
                len(self._buffer) >= self._max_batch
                or time.monotonic() - self._oldest_at >= self._max_delay_s
            )
            # The thread stores due batches, unless it falls far behind (then the writer
            # waits, so the buffer stays bounded).
            behind = len(self._buffer) >= 4 * self._max_batch
        if terminal or (due and (self._flusher is None or behind)):
            self.flush()
        elif due:
            self._wake.set()

    def flush(self) -> None:
        """Store every buffered event now (after any batch the thread is storing)."""
        with self._store_lock:
            with self._lock:
                self._unstored += self._buffer
                self._buffer = []
                batch = self._unstored
            if not batch:
                return
            kept = [event for event in batch if event.stored]
            if kept:
                self._storage.store_events(kept)
            # Cleared only once stored: a failed batch is retried by the next flush.
            self._unstored = []
            if self._on_stored is not None:
                self._on_stored(batch)

    def close(self) -> None:
        """Store what is buffered; later writes raise."""
        self._stopped.set()
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        with self._lock:
            self._closed = True
        self.flush()

    def __enter__(self) -> BatchingEventWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
