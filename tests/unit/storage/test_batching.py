"""BatchingEventWriter: batch sizes, the age limit, terminal events and close."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from raystra.events import Event, LogMessage, RunCanceled, RunFailed, RunSucceeded, StepSpans
from raystra.storage import BatchingEventWriter, RunRecord
from raystra.storage.sql import SqlRunStorage


class RecordingStorage(SqlRunStorage):
    """A real SQLite storage that also remembers the size of every batch it stored."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.batches: list[int] = []

    def store_events(self, events: Sequence[Event]) -> None:
        super().store_events(events)
        self.batches.append(len(events))


@pytest.fixture
def storage(tmp_path: Path) -> RecordingStorage:
    storage = RecordingStorage(f"sqlite:///{tmp_path}/raystra.db")
    storage.add_run(RunRecord(run_id="r1"))
    return storage


def _log(index: int) -> LogMessage:
    return LogMessage(run_id="r1", step_key="s", message=str(index))


def test_full_batches_then_close_flushes_the_rest(storage: RecordingStorage) -> None:
    writer = BatchingEventWriter(storage, max_batch=500, max_delay_s=3600)
    for index in range(1_200):
        writer.write(_log(index))
    assert storage.batches == [500, 500]
    writer.close()
    assert storage.batches == [500, 500, 200]
    assert len(storage.get_events("r1")) == 1_200


@pytest.mark.parametrize(
    "terminal",
    [RunSucceeded(run_id="r1"), RunFailed(run_id="r1"), RunCanceled(run_id="r1")],
)
def test_terminal_event_flushes_at_once(storage: RecordingStorage, terminal: Event) -> None:
    writer = BatchingEventWriter(storage, max_batch=500, max_delay_s=3600)
    writer.write(_log(0))
    writer.write(terminal)
    assert storage.batches == [2]
    assert storage.get_run("r1").status.is_finished


def test_old_buffer_is_flushed_on_the_next_write(storage: RecordingStorage) -> None:
    writer = BatchingEventWriter(storage, max_batch=500, max_delay_s=0.05)
    writer.write(_log(0))
    writer.write(_log(1))
    assert storage.batches == []
    time.sleep(0.1)
    writer.write(_log(2))
    assert storage.batches == [3]


def test_context_manager_flushes_even_on_error(storage: RecordingStorage) -> None:
    with pytest.raises(KeyError), BatchingEventWriter(storage) as writer:
        writer.write(_log(0))
        raise KeyError("boom")
    assert storage.batches == [1]
    with pytest.raises(RuntimeError, match="closed"):
        writer.write(_log(1))


def test_flush_with_nothing_buffered_stores_nothing(storage: RecordingStorage) -> None:
    writer = BatchingEventWriter(storage)
    writer.flush()
    writer.close()
    assert storage.batches == []


def test_failed_batch_is_kept_and_retried(storage: RecordingStorage) -> None:
    writer = BatchingEventWriter(storage, max_batch=500, max_delay_s=3600)
    writer.write(LogMessage(run_id="r2", step_key=None, message="run r2 not added yet"))
    with pytest.raises(LookupError, match="r2"):
        writer.flush()
    storage.add_run(RunRecord(run_id="r2"))
    writer.flush()
    assert len(storage.get_events("r2")) == 1


def test_a_background_writer_stores_an_event_that_waits_without_further_writes(
    storage: RecordingStorage,
) -> None:
    with BatchingEventWriter(storage, max_delay_s=0.1, background=True) as writer:
        writer.write(_log(1))  # e.g. a StepStarted, then a step that runs for minutes
        deadline = time.monotonic() + 10
        while not storage.batches:
            assert time.monotonic() < deadline, "the waiting event was never stored"
            time.sleep(0.02)
        assert [e.event.message for e in storage.get_events("r1")] == ["1"]  # type: ignore[attr-defined]


class StoredFirst:
    """An ``on_stored`` hook that records each batch and what storage held when it came."""

    def __init__(self, storage: RecordingStorage) -> None:
        self.storage = storage
        self.batches: list[list[str]] = []
        self.stored_when_called: list[int] = []

    def __call__(self, batch: Sequence[Event]) -> None:
        self.batches.append([event.kind for event in batch])
        self.stored_when_called.append(len(self.storage.get_events("r1")))


def test_on_stored_gets_each_batch_in_order_once_storage_has_it(
    storage: RecordingStorage,
) -> None:
    hook = StoredFirst(storage)
    writer = BatchingEventWriter(storage, max_batch=3, max_delay_s=3600, on_stored=hook)
    for index in range(4):
        writer.write(_log(index))
    writer.write(RunSucceeded(run_id="r1"))
    assert hook.batches == [["LogMessage"] * 3, ["LogMessage", "RunSucceeded"]]
    assert hook.stored_when_called == [3, 5]


def test_events_storage_does_not_keep_pass_through_to_on_stored_only(
    storage: RecordingStorage,
) -> None:
    hook = StoredFirst(storage)
    spans = StepSpans(run_id="r1", step_key="s", spans=(("raystra.compute", 0, 1, {}, None),))
    with BatchingEventWriter(storage, max_delay_s=3600, on_stored=hook) as writer:
        writer.write(_log(0))
        writer.write(spans)
    assert hook.batches == [["LogMessage", "StepSpans"]]
    assert [stored.event.kind for stored in storage.get_events("r1")] == ["LogMessage"]
    assert storage.batches == [1]  # the span event never reached store_events


def test_a_failed_batch_reaches_on_stored_once_when_its_retry_stores_it(
    storage: RecordingStorage,
) -> None:
    delivered: list[list[str]] = []
    writer = BatchingEventWriter(
        storage,
        max_delay_s=3600,
        on_stored=lambda batch: delivered.append([event.run_id for event in batch]),
    )
    writer.write(LogMessage(run_id="r2", step_key=None, message="run r2 not added yet"))
    with pytest.raises(LookupError, match="r2"):
        writer.flush()
    assert delivered == []
    storage.add_run(RunRecord(run_id="r2"))
    writer.flush()
    writer.close()
    assert delivered == [["r2"]]
