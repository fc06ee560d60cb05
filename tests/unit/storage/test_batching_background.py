"""BatchingEventWriter(background=True): the thread stores full batches, in order, while the
writer goes on; terminal events are still stored before `write` returns."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from raystra.events import Event, LogMessage, RunSucceeded
from raystra.storage import BatchingEventWriter, RunRecord
from raystra.storage.sql import SqlRunStorage


class GatedStorage(SqlRunStorage):
    """A real SQLite storage whose stores wait for ``gate`` and record their thread."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # a store began
        self.threads: list[str] = []
        self.fail_next = False

    def store_events(self, events: Sequence[Event]) -> None:
        self.entered.set()
        self.gate.wait(30)
        self.threads.append(threading.current_thread().name)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database is locked")
        super().store_events(events)


@pytest.fixture
def storage(tmp_path: Path) -> GatedStorage:
    storage = GatedStorage(f"sqlite:///{tmp_path}/raystra.db")
    storage.add_run(RunRecord(run_id="r1"))
    return storage


def _log(index: int) -> LogMessage:
    return LogMessage(run_id="r1", step_key="s", message=str(index))


def _messages(storage: GatedStorage) -> list[str]:
    return [getattr(stored.event, "message", "") for stored in storage.get_events("r1")]


def test_full_batches_are_stored_by_the_thread_while_writes_go_on(storage: GatedStorage) -> None:
    storage.gate.clear()  # the database is slow: the thread's store waits
    writer = BatchingEventWriter(storage, max_batch=10, max_delay_s=3600, background=True)
    for index in range(10):
        writer.write(_log(index))
    assert storage.entered.wait(30)  # the thread took the full batch and waits on the database
    for index in range(10, 35):  # meanwhile writes go on: they do not wait for it
        writer.write(_log(index))
    storage.gate.set()
    writer.write(RunSucceeded(run_id="r1"))  # stored before write returns
    assert storage.get_run("r1").status.is_finished
    assert _messages(storage)[:35] == [str(index) for index in range(35)]
    assert storage.threads[0] == "raystra-event-flush"
    writer.close()


def test_a_failed_background_store_is_retried_in_order(storage: GatedStorage) -> None:
    storage.fail_next = True
    writer = BatchingEventWriter(storage, max_batch=5, max_delay_s=3600, background=True)
    for index in range(5):
        writer.write(_log(index))
    assert storage.entered.wait(30)  # the thread's store of the full batch, which fails
    for index in range(5, 12):
        writer.write(_log(index))
    writer.close()
    assert storage.threads[0] == "raystra-event-flush"
    assert _messages(storage) == [str(index) for index in range(12)]
