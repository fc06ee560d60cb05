"""Several processes writing to one run storage at once, on SQLite and on PostgreSQL.

Each test starts 4 processes (``spawn``, released together by a barrier) and then counts what
they stored exactly: per run and per event kind, rows in the tables, partition status rows, and
no event stored twice. The backends are a SQLite file (WAL, busy timeout, retried writes) and a
database on the session's throwaway PostgreSQL server (``postgres_server`` in tests/conftest.py).
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

import raystra
from raystra import AssetKey, DailyPartitionsDefinition, Definitions, asset
from raystra.events import (
    AssetMaterialized,
    LogMessage,
    RunStarted,
    RunStatus,
    RunSucceeded,
    StepStarted,
    StepSucceeded,
    event_to_dict,
)
from raystra.storage import BatchingEventWriter, RunRecord
from raystra.storage import _engine as storage_engine
from raystra.storage._backfill_records import BackfillRecord
from raystra.storage._engine import alembic_config, write_transaction
from raystra.storage._schema import runs
from raystra.storage.sql import SqlRunStorage

if TYPE_CHECKING:  # conftest modules are not imported by tests
    from postgres_server import PostgresServer

pytestmark = pytest.mark.integration

WRITERS = 4
# The newest shipped revision, whatever it is.
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
_JOIN_TIMEOUT_S = 240

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-10")
RANGE = "2024-01-01...2024-02-09"  # 40 partitions
PARTITIONS = 40


@asset(partitions_def=DAYS)
def orders(context: raystra.AssetExecutionContext) -> pa.Table:
    context.log.info(f"orders for {context.partition_key}")
    return pa.table({"day": [context.partition_key], "amount": [1]})


@asset(partitions_def=DAYS)
def totals(orders: pa.Table) -> pa.Table:
    return pa.table({"total": [len(orders)]})


@asset(partitions_def=DAYS)
def flags(totals: pa.Table) -> pa.Table:
    return pa.table({"ok": [True]})


DEFS = Definitions([orders, totals, flags])
ASSETS = ("orders", "totals", "flags")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty storage URL (no file, or a database with no tables) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/shared/raystra.db"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    created = server.create_database()
    yield created
    server.drop_database(sa.make_url(created).database or "")


def _in_processes(target: Callable[..., None], args: list[tuple[Any, ...]]) -> None:
    """Run ``target(*args[i], barrier)`` in one spawned process each; all must exit 0."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args))
    workers = [ctx.Process(target=target, args=(*a, barrier)) for a in args]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + _JOIN_TIMEOUT_S
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    for worker in workers:
        if worker.is_alive():  # a hung writer: stop our own child, then fail
            worker.kill()
            worker.join()
    assert [worker.exitcode for worker in workers] == [0] * len(workers)


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count: int = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    engine.dispose()
    return count


# --- 4 runs of one partitioned project at once --------------------------------------------


def _materialize(url: str, home: str, barrier: Barrier) -> None:
    # Storage is shared; each process keeps its own RAYSTRA_HOME (IO manager files), so this
    # tests the run storage, not concurrent writes of the same Parquet files.
    os.environ.update(RAYSTRA_STORAGE_URL=url, RAYSTRA_HOME=home, RAYSTRA_EXECUTOR="in_process")
    barrier.wait(timeout=120)
    result = raystra.materialize(DEFS, "*", partition_range=RANGE, executor="in_process")
    assert result.success


def test_four_concurrent_runs_store_every_event_exactly_once(url: str, tmp_path: Path) -> None:
    _in_processes(_materialize, [(url, str(tmp_path / f"home-{n}")) for n in range(WRITERS)])

    storage = SqlRunStorage(url)
    runs_stored = storage.get_runs()
    assert len(runs_stored) == WRITERS
    steps = len(ASSETS) * PARTITIONS
    expected = {
        "RunStarted": 1,
        "StepStarted": steps,
        "AssetMaterialized": steps,
        "StepSucceeded": steps,
        "LogMessage": PARTITIONS,  # one line per `orders` step
        "RunSucceeded": 1,
    }
    total = 0
    for run in runs_stored:
        assert run.status is RunStatus.SUCCESS
        events = storage.get_events(run.run_id)
        kinds = collections.Counter(e.event.kind for e in events)
        assert {kind: kinds[kind] for kind in expected} == expected
        # Every stored event is distinct (its payload holds its timestamp): none went in twice.
        payloads = [json.dumps(event_to_dict(e.event), sort_keys=True) for e in events]
        assert len(set(payloads)) == len(payloads)
        total += len(events)
    assert _count(url, "events") == total
    assert _count(url, "asset_materializations") == WRITERS * steps

    for name in ASSETS:
        states = storage.partition_states(AssetKey(name))
        assert len(states) == PARTITIONS
        assert {state.status for state in states.values()} == {"materialized"}
    assert _count(url, "asset_partitions") == len(ASSETS) * PARTITIONS
    _assert_partition_status_matches_latest(url)
    storage.close()


def _assert_partition_status_matches_latest(url: str) -> None:
    """Each partition's status row points at its newest materialization (highest id)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        mismatched = conn.execute(
            sa.text(
                "SELECT p.asset_key, p.partition FROM asset_partitions p WHERE p.event_id <> "
                "(SELECT MAX(m.event_id) FROM asset_materializations m WHERE m.asset_key = "
                "p.asset_key AND COALESCE(m.partition, '') = p.partition)"
            )
        ).all()
    engine.dispose()
    assert mismatched == []


# --- the storage API hammered by 4 writers: small batches, shared partitions ----------------

_STEPS_PER_WRITER = 150
_SHARED_PARTITIONS = 25


def _write_events(url: str, run_id: str, out: str, barrier: Barrier) -> None:
    storage = SqlRunStorage(url)
    barrier.wait(timeout=120)
    storage.add_run(RunRecord(run_id=run_id))
    shared = AssetKey("shared")
    with BatchingEventWriter(storage, max_batch=20, max_delay_s=60) as writer:
        writer.write(RunStarted(run_id=run_id))
        for index in range(_STEPS_PER_WRITER):
            step = f"shared[{index}]"
            partition = f"p{index % _SHARED_PARTITIONS:02d}"
            writer.write(StepStarted(run_id=run_id, step_key=step))
            writer.write(LogMessage(run_id=run_id, step_key=step, message=f"{run_id} {index}"))
            read = {"asset_key": "upstream", "partition": partition, "run_id": None}
            writer.write(
                AssetMaterialized(
                    run_id=run_id,
                    step_key=step,
                    asset_key=shared,
                    partition=partition,
                    metadata={"index": index},
                    consumed=(read,),
                )
            )
            writer.write(StepSucceeded(run_id=run_id, step_key=step))
        writer.write(RunSucceeded(run_id=run_id))
    storage.update_backfill("bf-shared", add_run_id=run_id)
    new = storage.add_dynamic_partitions("customers", [f"c{n}" for n in range(30)])
    Path(out).write_text(json.dumps(new))
    storage.close()


def test_four_writers_lose_and_duplicate_nothing(url: str, tmp_path: Path) -> None:
    setup = SqlRunStorage(url)
    setup.add_backfill(
        BackfillRecord(backfill_id="bf-shared", status="RUNNING", selection=(), partitions={})
    )
    setup.close()
    run_ids = [f"run-{n}" for n in range(WRITERS)]
    outs = [tmp_path / f"{run_id}.json" for run_id in run_ids]
    _in_processes(_write_events, [(url, r, str(o)) for r, o in zip(run_ids, outs, strict=True)])

    storage = SqlRunStorage(url)
    per_kind = {
        "RunStarted": 1,
        "StepStarted": _STEPS_PER_WRITER,
        "LogMessage": _STEPS_PER_WRITER,
        "AssetMaterialized": _STEPS_PER_WRITER,
        "StepSucceeded": _STEPS_PER_WRITER,
        "RunSucceeded": 1,
    }
    for run_id in run_ids:
        events = storage.get_events(run_id)
        assert collections.Counter(e.event.kind for e in events) == per_kind
        messages = [e.event.message for e in events if isinstance(e.event, LogMessage)]
        assert messages == [f"{run_id} {i}" for i in range(_STEPS_PER_WRITER)]  # in order
        assert storage.get_run(run_id).status is RunStatus.SUCCESS
    per_run = sum(per_kind.values())
    assert _count(url, "events") == WRITERS * per_run
    assert _count(url, "asset_materializations") == WRITERS * _STEPS_PER_WRITER
    assert _count(url, "materialization_inputs") == WRITERS * _STEPS_PER_WRITER
    assert len(storage.partition_states(AssetKey("shared"))) == _SHARED_PARTITIONS
    assert _count(url, "asset_partitions") == _SHARED_PARTITIONS
    _assert_partition_status_matches_latest(url)

    # Read-modify-write of the backfill's run list: no append lost.
    assert sorted(storage.get_backfill("bf-shared").run_ids) == run_ids
    # Overlapping dynamic partitions: each key stored once and reported new by one writer.
    reported = [key for out in outs for key in json.loads(out.read_text())]
    assert sorted(reported) == sorted(f"c{n}" for n in range(30))
    assert len(storage.get_dynamic_partitions("customers")) == 30
    storage.close()


# --- first-time migrations of a fresh database by 4 processes ------------------------------


def _open_fresh(url: str, run_id: str, barrier: Barrier) -> None:
    barrier.wait(timeout=120)  # every process opens the empty database at the same moment
    storage = SqlRunStorage(url)
    storage.add_run(RunRecord(run_id=run_id))
    storage.store_events([RunStarted(run_id=run_id)])
    storage.close()


def test_four_processes_migrating_a_fresh_database_at_once(url: str) -> None:
    run_ids = [f"run-{n}" for n in range(WRITERS)]
    _in_processes(_open_fresh, [(url, run_id) for run_id in run_ids])

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert versions == [(HEAD,)]
    storage = SqlRunStorage(url)
    assert sorted(run.run_id for run in storage.get_runs()) == run_ids
    assert all(run.status is RunStatus.STARTED for run in storage.get_runs())
    storage.close()


# --- retries past SQLite's busy timeout, and Postgres deadlocks -----------------------------


def test_a_sqlite_write_locked_out_past_the_busy_timeout_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_engine, "_SQLITE_BUSY_TIMEOUT_MS", 50)
    db = tmp_path / "raystra.db"
    storage = SqlRunStorage(f"sqlite:///{db}")
    storage.add_run(RunRecord(run_id="r1"))
    # Another process holds the write lock for 0.6 s, 12 busy timeouts.
    blocker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.6, lambda: blocker.execute("ROLLBACK"))
    release.start()
    started = time.monotonic()
    try:
        storage.store_events(
            [RunStarted(run_id="r1"), LogMessage(run_id="r1", step_key=None, message="x")]
        )
    finally:
        release.join()
        blocker.close()
    assert time.monotonic() - started >= 0.5
    assert [e.event.kind for e in storage.get_events("r1")] == ["RunStarted", "LogMessage"]
    storage.close()


def test_retries_are_bounded_and_the_writer_keeps_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_engine, "_SQLITE_BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr(storage_engine, "_WRITE_ATTEMPTS", 3)
    db = tmp_path / "raystra.db"
    storage = SqlRunStorage(f"sqlite:///{db}")
    storage.add_run(RunRecord(run_id="r1"))
    writer = BatchingEventWriter(storage, max_batch=100, max_delay_s=60)
    writer.write(RunStarted(run_id="r1"))
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(sa.exc.OperationalError, match="locked"):
        writer.flush()
    blocker.execute("ROLLBACK")
    blocker.close()
    assert storage.get_events("r1") == []
    writer.close()  # the batch the database refused is stored now, once
    assert [e.event.kind for e in storage.get_events("r1")] == ["RunStarted"]
    storage.close()


def test_a_postgres_deadlock_is_rolled_back_and_retried(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database()
    storage = SqlRunStorage(url)
    storage.add_run(RunRecord(run_id="a"))
    storage.add_run(RunRecord(run_id="b"))
    engine = sa.create_engine(url)
    both_locked_one = threading.Barrier(2)
    attempts: collections.Counter[str] = collections.Counter()

    def swap(first: str, second: str) -> Callable[[sa.Connection], None]:
        def work(conn: sa.Connection) -> None:
            attempts[first] += 1
            conn.execute(runs.update().where(runs.c.run_id == first).values(job_name=first))
            if attempts[first] == 1:
                both_locked_one.wait(timeout=30)  # each holds one row and wants the other's
            conn.execute(runs.update().where(runs.c.run_id == second).values(job_name=first))

        return work

    errors: list[BaseException] = []

    def run(first: str, second: str) -> None:
        try:
            write_transaction(engine, swap(first, second))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()
    assert errors == []
    assert sum(attempts.values()) == 3  # Postgres aborted one of the two once
    storage.close()
    postgres_server.drop_database(sa.make_url(url).database or "")
