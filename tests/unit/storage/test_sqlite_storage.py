"""The run storage conformance suite against SQLite files, plus SQLite-only behaviour."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from raystra.errors import RaystraError
from raystra.events import LogMessage, RunStarted, RunStatus, RunSucceeded
from raystra.storage import BatchingEventWriter, RunRecord, RunStorage, open_storage
from raystra.storage.sql import SqlRunStorage
from raystra.testing.storage_suite import RunStorageConformance


class TestSqliteRunStorage(RunStorageConformance):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[RunStorage]:
        storage = SqlRunStorage(f"sqlite:///{tmp_path}/raystra.db")
        yield storage
        storage.close()


def test_creates_the_directory_and_uses_wal(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "home" / "raystra.db"
    storage = SqlRunStorage(f"sqlite:///{db}")
    storage.add_run(RunRecord(run_id="r1"))
    storage.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT run_id FROM runs").fetchall() == [("r1",)]


def test_sqlite_connections_have_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    storage = SqlRunStorage(f"sqlite:///{tmp_path}/raystra.db")
    with storage._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    storage.close()


def test_open_storage_defaults_to_sqlite_in_raystra_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAYSTRA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RAYSTRA_STORAGE_URL", raising=False)
    open_storage().close()
    assert (tmp_path / "home" / "raystra.db").exists()

    monkeypatch.setenv("RAYSTRA_STORAGE_URL", f"sqlite:///{tmp_path}/from_env.db")
    open_storage().close()
    assert (tmp_path / "from_env.db").exists()

    open_storage(f"sqlite:///{tmp_path}/explicit.db").close()
    assert (tmp_path / "explicit.db").exists()


def test_bad_url_is_a_readable_error_without_echoing_it() -> None:
    with pytest.raises(RaystraError, match="RAYSTRA_STORAGE_URL") as info:
        open_storage("not a url :: secret")
    assert "secret" not in str(info.value)


def test_records_persist_across_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/raystra.db"
    first = SqlRunStorage(url)
    first.add_run(RunRecord(run_id="r1", created_at=1.0))
    first.store_events([RunStarted(run_id="r1", timestamp=2.0)])
    first.close()
    second = SqlRunStorage(url)
    assert second.get_run("r1").status is RunStatus.STARTED
    second.close()


_EVENTS_PER_WRITER = 1_000


def _write_run(url: str, run_id: str, barrier: Barrier) -> None:
    barrier.wait()  # open the fresh database at the same moment as the other process
    storage = SqlRunStorage(url)
    storage.add_run(RunRecord(run_id=run_id))
    with BatchingEventWriter(storage, max_batch=50, max_delay_s=60) as writer:
        writer.write(RunStarted(run_id=run_id))
        for index in range(_EVENTS_PER_WRITER - 2):
            writer.write(LogMessage(run_id=run_id, step_key="s", message=str(index)))
        writer.write(RunSucceeded(run_id=run_id))
    storage.close()


def test_two_processes_opening_a_fresh_db_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh/raystra.db"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=_write_run, args=(url, f"run-{n}", barrier)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]

    storage = SqlRunStorage(url)
    for n in range(2):
        events = storage.get_events(f"run-{n}")
        assert len(events) == _EVENTS_PER_WRITER
        assert [e.event.message for e in events[1:-1]] == [  # type: ignore[attr-defined]
            str(i) for i in range(_EVENTS_PER_WRITER - 2)
        ]
        assert storage.get_run(f"run-{n}").status is RunStatus.SUCCESS
    storage.close()
