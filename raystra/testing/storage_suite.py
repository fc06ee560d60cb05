"""The conformance suite every `RunStorage` passes.

Subclass `RunStorageConformance` in a test module, name the subclass ``Test...`` and override
the ``storage`` fixture to yield a fresh, empty storage.

Example:
    >>> class TestSqliteStorage(RunStorageConformance):  # doctest: +SKIP
    ...     @pytest.fixture
    ...     def storage(self, tmp_path):
    ...         storage = SqlRunStorage(f"sqlite:///{tmp_path}/raystra.db")
    ...         yield storage
    ...         storage.close()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from raystra.definitions._keys import AssetKey
from raystra.errors import RaystraError, RunNotFoundError
from raystra.events import (
    AssetMaterialized,
    ErrorInfo,
    Event,
    LogMessage,
    PartitionFailed,
    RunCanceled,
    RunFailed,
    RunStarted,
    RunStatus,
    RunSucceeded,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from raystra.storage._backfill_records import BackfillRecord
from raystra.storage._base import RunRecord, RunStorage
from raystra.testing._automation_storage_suite import AutomationStorageConformance
from raystra.testing._check_storage_suite import CheckStorageConformance

__all__ = ["RunStorageConformance"]

ORDERS = AssetKey(["raw", "orders"])
REPORT = AssetKey("report")


def _error() -> ErrorInfo:
    try:
        raise ValueError("bad row 7")
    except ValueError as exc:
        return ErrorInfo.from_exception(exc)


def _materialized(
    run_id: str,
    asset_key: AssetKey,
    *,
    timestamp: float,
    partition: str | None = None,
    consumed: tuple[Mapping[str, Any], ...] = (),
) -> AssetMaterialized:
    return AssetMaterialized(
        run_id=run_id,
        timestamp=timestamp,
        step_key=asset_key.to_user_string(),
        asset_key=asset_key,
        partition=partition,
        metadata={"rows": 3, "ratio": 0.5, "ok": True, "note": None, "cols": ["a", {"b": 1}]},
        code_version="v1",
        consumed=consumed,
    )


def _failed(run_id: str, asset_key: AssetKey, partition: str | None) -> PartitionFailed:
    return PartitionFailed(
        run_id=run_id,
        step_key=asset_key.to_user_string(),
        asset_key=asset_key,
        partition=partition,
        reason="step failed",
    )


def _read(asset_key: AssetKey, partition: str | None, run_id: str | None) -> dict[str, Any]:
    """A ``consumed`` entry; a None run means "loaded from storage" (storage fills it in)."""
    return {
        "asset_key": asset_key.to_user_string(),
        "partition": partition,
        "run_id": run_id,
        "data_version": None,
    }


class RunStorageConformance(AutomationStorageConformance, CheckStorageConformance):
    """Behaviour shared by every run storage; override ``storage`` to test one."""

    @pytest.fixture
    def storage(self) -> Iterator[RunStorage]:
        """A fresh, empty storage; subclasses override this."""
        raise NotImplementedError("Override the `storage` fixture to yield a fresh RunStorage.")
        yield  # pragma: no cover

    @staticmethod
    def add(storage: RunStorage, run_id: str, *, created_at: float = 1.0) -> None:
        """Add a minimal run."""
        storage.add_run(RunRecord(run_id=run_id, created_at=created_at))

    # --- runs ------------------------------------------------------------------------------

    def test_add_and_get_run_round_trips_every_field(self, storage: RunStorage) -> None:
        record = RunRecord(
            run_id="run-full",
            job_name="nightly",
            selection=("raw/orders", "report"),
            run_config={"ops": {"report": {"config": {"limit": 5, "tags": ["x"]}}}},
            tags={"team": "sales"},
            parent_run_id="run-parent",
            root_run_id="run-root",
            executor="ray",
            created_at=12.5,
        )
        storage.add_run(record)
        assert storage.get_run("run-full") == record
        assert storage.get_run("run-full").status is RunStatus.QUEUED

    def test_adding_a_run_twice_raises(self, storage: RunStorage) -> None:
        self.add(storage, "run-dup")
        with pytest.raises(RaystraError, match="run-dup"):
            self.add(storage, "run-dup")

    def test_get_run_by_unique_prefix(self, storage: RunStorage) -> None:
        self.add(storage, "abc123")
        self.add(storage, "abd456")
        assert storage.get_run("abc").run_id == "abc123"
        assert storage.get_run("abd4").run_id == "abd456"

    def test_ambiguous_prefix_lists_candidates(self, storage: RunStorage) -> None:
        self.add(storage, "abc123")
        self.add(storage, "abd456")
        with pytest.raises(RunNotFoundError, match="ambiguous") as info:
            storage.get_run("ab")
        assert "abc123" in str(info.value)
        assert "abd456" in str(info.value)

    def test_unknown_run_says_how_to_list_runs(self, storage: RunStorage) -> None:
        self.add(storage, "abc123")
        for unknown in ("zzz", "ABC", "a%", "a_c"):
            with pytest.raises(RunNotFoundError, match="raystra runs list"):
                storage.get_run(unknown)

    def test_get_runs_newest_first_with_limit_and_status(self, storage: RunStorage) -> None:
        for index in range(5):
            self.add(storage, f"run-{index}", created_at=100.0 + index)
        storage.store_events(
            [
                RunStarted(run_id="run-1", timestamp=200.0),
                RunSucceeded(run_id="run-1", timestamp=201.0),
                RunStarted(run_id="run-3", timestamp=202.0),
            ]
        )
        assert [r.run_id for r in storage.get_runs()] == [f"run-{i}" for i in (4, 3, 2, 1, 0)]
        assert [r.run_id for r in storage.get_runs(limit=2)] == ["run-4", "run-3"]
        queued = storage.get_runs(statuses=[RunStatus.QUEUED])
        assert [r.run_id for r in queued] == ["run-4", "run-2", "run-0"]
        finished_or_started = storage.get_runs(statuses=[RunStatus.SUCCESS, RunStatus.STARTED])
        assert [r.run_id for r in finished_or_started] == ["run-3", "run-1"]
        assert storage.get_runs(statuses=[]) == []

    # --- status from run events ------------------------------------------------------------

    def test_run_started_sets_status_and_start_time(self, storage: RunStorage) -> None:
        self.add(storage, "run-s")
        storage.store_events([RunStarted(run_id="run-s", timestamp=10.0, executor="ray")])
        run = storage.get_run("run-s")
        assert (run.status, run.started_at, run.ended_at) == (RunStatus.STARTED, 10.0, None)
        assert run.executor == "ray"

    @pytest.mark.parametrize(
        ("terminal", "status"),
        [
            (RunSucceeded(run_id="run-t", timestamp=20.0), RunStatus.SUCCESS),
            (RunFailed(run_id="run-t", timestamp=20.0, failed_step_keys=("a",)), RunStatus.FAILURE),
            (RunCanceled(run_id="run-t", timestamp=20.0, reason="Ctrl-C"), RunStatus.CANCELED),
        ],
    )
    def test_terminal_event_finishes_the_run(
        self, storage: RunStorage, terminal: Event, status: RunStatus
    ) -> None:
        self.add(storage, "run-t")
        storage.store_events([RunStarted(run_id="run-t", timestamp=10.0)])
        storage.store_events([terminal])
        run = storage.get_run("run-t")
        assert (run.status, run.started_at, run.ended_at) == (status, 10.0, 20.0)
        assert run.status.is_finished

    # --- events ----------------------------------------------------------------------------

    def test_events_round_trip_in_order(self, storage: RunStorage) -> None:
        self.add(storage, "run-e")
        self.add(storage, "run-other")
        stored: list[Event] = [
            RunStarted(run_id="run-e", timestamp=1.0, step_keys=("raw/orders", "report")),
            StepStarted(run_id="run-e", timestamp=2.0, step_key="raw/orders", host="h", pid=7),
            LogMessage(run_id="run-e", timestamp=3.0, step_key="raw/orders", message="héllo"),
            _materialized("run-e", ORDERS, timestamp=4.0, partition="2024-03-01"),
            StepSucceeded(run_id="run-e", timestamp=5.0, step_key="raw/orders", duration_s=3.0),
            StepFailed(run_id="run-e", timestamp=6.0, step_key="report", attempt=1, error=_error()),
            RunFailed(run_id="run-e", timestamp=7.0, failed_step_keys=("report",)),
        ]
        storage.store_events(stored[:3])
        storage.store_events([LogMessage(run_id="run-other", step_key=None, message="x")])
        storage.store_events(stored[3:])
        got = storage.get_events("run-e")
        assert [e.event for e in got] == stored
        ids = [e.storage_id for e in got]
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)

    def test_get_events_filters(self, storage: RunStorage) -> None:
        self.add(storage, "run-f")
        storage.store_events(
            [
                RunStarted(run_id="run-f", timestamp=1.0),
                StepStarted(run_id="run-f", timestamp=2.0, step_key="a"),
                StepStarted(run_id="run-f", timestamp=3.0, step_key="b"),
                StepSucceeded(run_id="run-f", timestamp=4.0, step_key="a"),
                StepSucceeded(run_id="run-f", timestamp=5.0, step_key="b"),
            ]
        )
        all_events = storage.get_events("run-f")
        kinds = storage.get_events("run-f", kinds=["StepSucceeded", "RunStarted"])
        assert [e.event.kind for e in kinds] == ["RunStarted", "StepSucceeded", "StepSucceeded"]
        by_step = storage.get_events("run-f", step_key="b")
        assert [e.event.timestamp for e in by_step] == [3.0, 5.0]
        after = storage.get_events("run-f", after_storage_id=all_events[2].storage_id)
        assert after == all_events[3:]
        combined = storage.get_events(
            "run-f", kinds=["StepSucceeded"], step_key="a", after_storage_id=0
        )
        assert [e.event.timestamp for e in combined] == [4.0]
        assert storage.get_events("run-f", kinds=[]) == []
        assert storage.get_events("no-such-run") == []

    def test_events_of_an_unknown_run_are_rejected_whole(self, storage: RunStorage) -> None:
        self.add(storage, "run-k")
        batch = [
            StepStarted(run_id="run-k", timestamp=1.0, step_key="a"),
            StepStarted(run_id="run-missing", timestamp=1.0, step_key="a"),
        ]
        with pytest.raises(RunNotFoundError, match="run-missing"):
            storage.store_events(batch)
        assert storage.get_events("run-k") == []

    def test_empty_batch_is_a_no_op(self, storage: RunStorage) -> None:
        storage.store_events([])
        assert storage.get_runs() == []

    def test_five_thousand_events_in_one_call(self, storage: RunStorage) -> None:
        self.add(storage, "run-big")
        batch: list[Event] = [RunStarted(run_id="run-big", timestamp=0.0)]
        for index in range(4_998):
            if index % 10 == 0:
                key = AssetKey(["part", f"a{index % 7}"])
                batch.append(_materialized("run-big", key, timestamp=float(index), partition="p"))
            else:
                batch.append(LogMessage(run_id="run-big", step_key="s", message=str(index)))
        batch.append(RunSucceeded(run_id="run-big", timestamp=9_999.0))
        assert len(batch) == 5_000
        storage.store_events(batch)
        assert [e.event for e in storage.get_events("run-big")] == batch
        assert storage.get_run("run-big").status is RunStatus.SUCCESS
        latest = storage.latest_materializations()
        assert len(latest) == 7
        assert latest[AssetKey(["part", "a0"])].timestamp == 4_970.0

    # --- step stats ------------------------------------------------------------------------

    def test_step_stats_success(self, storage: RunStorage) -> None:
        self.add(storage, "run-1")
        storage.store_events(
            [
                StepStarted(run_id="run-1", timestamp=10.0, step_key="a"),
                LogMessage(run_id="run-1", timestamp=11.0, step_key="a", message="hi"),
                StepSucceeded(run_id="run-1", timestamp=12.5, step_key="a"),
            ]
        )
        [stats] = storage.get_step_stats("run-1")
        assert (stats.step_key, stats.status, stats.attempts) == ("a", "SUCCESS", 1)
        assert (stats.start_time, stats.end_time, stats.duration_s) == (10.0, 12.5, 2.5)
        assert stats.error is None

    def test_step_stats_failure_keeps_the_traceback(self, storage: RunStorage) -> None:
        self.add(storage, "run-1")
        error = _error()
        storage.store_events(
            [
                StepStarted(run_id="run-1", timestamp=1.0, step_key="a"),
                StepFailed(run_id="run-1", timestamp=2.0, step_key="a", attempt=1, error=error),
            ]
        )
        [stats] = storage.get_step_stats("run-1")
        assert (stats.status, stats.end_time, stats.error) == ("FAILURE", 2.0, error)
        assert stats.error is not None
        assert "ValueError: bad row 7" in stats.error.traceback

    def test_step_stats_count_retry_attempts(self, storage: RunStorage) -> None:
        self.add(storage, "run-1")
        storage.store_events(
            [
                StepStarted(run_id="run-1", timestamp=1.0, step_key="a", attempt=1),
                StepRetrying(
                    run_id="run-1", timestamp=2.0, step_key="a", attempt=1, error=_error()
                ),
                StepStarted(run_id="run-1", timestamp=3.0, step_key="a", attempt=2),
            ]
        )
        [retrying] = storage.get_step_stats("run-1")
        assert (retrying.status, retrying.attempts, retrying.end_time) == ("IN_PROGRESS", 2, None)
        storage.store_events([StepSucceeded(run_id="run-1", timestamp=4.0, step_key="a")])
        [done] = storage.get_step_stats("run-1")
        assert (done.status, done.attempts, done.start_time, done.end_time) == (
            "SUCCESS",
            2,
            1.0,
            4.0,
        )

    def test_step_stats_skipped_with_reason(self, storage: RunStorage) -> None:
        self.add(storage, "run-1")
        storage.store_events(
            [
                StepSkipped(
                    run_id="run-1",
                    timestamp=5.0,
                    step_key="report",
                    reason="upstream raw/orders failed",
                    upstream_step_keys=("raw/orders",),
                )
            ]
        )
        [stats] = storage.get_step_stats("run-1")
        assert (stats.status, stats.skip_reason, stats.attempts) == (
            "SKIPPED",
            "upstream raw/orders failed",
            0,
        )

    def test_step_stats_first_seen_order_and_unfinished_steps(self, storage: RunStorage) -> None:
        self.add(storage, "run-1")
        self.add(storage, "run-2")
        storage.store_events(
            [
                RunStarted(run_id="run-1", timestamp=0.0),
                StepStarted(run_id="run-1", timestamp=1.0, step_key="b"),
                StepStarted(run_id="run-1", timestamp=1.0, step_key="a"),
                StepStarted(run_id="run-2", timestamp=1.0, step_key="c"),
                StepSucceeded(run_id="run-1", timestamp=2.0, step_key="a"),
                RunCanceled(run_id="run-1", timestamp=3.0),
            ]
        )
        stats = storage.get_step_stats("run-1")
        assert [(s.step_key, s.status) for s in stats] == [("b", "IN_PROGRESS"), ("a", "SUCCESS")]
        assert storage.get_step_stats("no-such-run") == []

    # --- materialization index -------------------------------------------------------------

    def test_latest_materialization_per_asset(self, storage: RunStorage) -> None:
        self.add(storage, "run-1")
        self.add(storage, "run-2")
        storage.store_events(
            [
                _materialized("run-1", ORDERS, timestamp=1.0, partition="2024-03-01"),
                _materialized("run-1", REPORT, timestamp=2.0),
            ]
        )
        storage.store_events(
            [_materialized("run-2", ORDERS, timestamp=3.0, partition="2024-03-02")]
        )
        latest = storage.latest_materializations()
        assert set(latest) == {ORDERS, REPORT}
        orders = latest[ORDERS]
        assert (orders.run_id, orders.partition, orders.timestamp) == ("run-2", "2024-03-02", 3.0)
        assert (orders.step_key, orders.code_version) == ("raw/orders", "v1")
        assert orders.metadata == _materialized("x", ORDERS, timestamp=0).metadata
        assert latest[REPORT].partition is None
        [event] = storage.get_events("run-2", kinds=["AssetMaterialized"])
        assert orders.storage_id == event.storage_id

        only_report = storage.latest_materializations([REPORT, AssetKey("never_built")])
        assert list(only_report) == [REPORT]
        assert storage.latest_materializations([]) == {}

    def test_materialization_history_newest_first(self, storage: RunStorage) -> None:
        self.add(storage, "run-1")
        storage.store_events(
            [
                _materialized("run-1", ORDERS, timestamp=float(day), partition=f"2024-03-0{day}")
                for day in range(1, 6)
            ]
            + [_materialized("run-1", REPORT, timestamp=9.0)]
        )
        history = storage.get_materializations(ORDERS)
        assert [m.partition for m in history] == [f"2024-03-0{day}" for day in (5, 4, 3, 2, 1)]
        limited = storage.get_materializations(ORDERS, limit=2)
        assert [m.partition for m in limited] == ["2024-03-05", "2024-03-04"]
        assert storage.get_materializations(AssetKey("never_built")) == []

    # --- partition status and lineage -------------------------------------------------------

    def test_partition_states_follow_materializations_and_failures(
        self, storage: RunStorage
    ) -> None:
        self.add(storage, "run-1")
        self.add(storage, "run-2")
        storage.store_events(
            [
                _materialized("run-1", ORDERS, timestamp=1.0, partition="2024-03-01"),
                _materialized("run-1", ORDERS, timestamp=2.0, partition="2024-03-02"),
                _materialized("run-1", REPORT, timestamp=3.0),
            ]
        )
        # A failure keeps the last good code version; a partition that never succeeded has none.
        storage.store_events([_failed("run-2", ORDERS, "2024-03-02")])
        storage.store_events(
            [_failed("run-2", ORDERS, "2024-03-03"), _failed("run-2", REPORT, None)]
        )
        assert storage.partition_states(ORDERS) == {
            "2024-03-01": ("materialized", "v1"),
            "2024-03-02": ("failed", "v1"),
            "2024-03-03": ("failed", None),
        }
        assert storage.partition_states(REPORT) == {None: ("failed", "v1")}
        assert storage.partition_states(AssetKey("never_built")) == {}

        storage.store_events([_materialized("run-2", REPORT, timestamp=4.0)])
        assert storage.partition_states(REPORT) == {None: ("materialized", "v1")}

    def test_a_partition_materialized_twice_in_one_batch_keeps_the_last(
        self, storage: RunStorage
    ) -> None:
        self.add(storage, "run-1")
        first = _materialized("run-1", ORDERS, timestamp=1.0, partition="p")
        second = dataclasses.replace(first, timestamp=2.0, code_version="v2")
        storage.store_events([first, second, _materialized("run-1", ORDERS, timestamp=3.0)])
        assert storage.partition_states(ORDERS) == {
            "p": ("materialized", "v2"),
            None: ("materialized", "v1"),
        }
        assert len(storage.get_materializations(ORDERS)) == 3

    def test_stale_partitions_after_an_input_is_materialized_again(
        self, storage: RunStorage
    ) -> None:
        for run_id in ("run-1", "run-2", "run-3"):
            self.add(storage, run_id)
        storage.store_events(
            [_materialized("run-1", ORDERS, timestamp=1.0, partition=p) for p in ("a", "b")]
        )
        # "b" was loaded from storage: the storage records the run current at the time.
        reads = (_read(ORDERS, "a", "run-1"), _read(ORDERS, "b", None))
        storage.store_events([_materialized("run-2", REPORT, timestamp=2.0, consumed=reads)])
        assert storage.stale_partitions(REPORT) == {}

        storage.store_events([_materialized("run-3", ORDERS, timestamp=3.0, partition="b")])
        assert storage.stale_partitions(REPORT) == {None: ["raw/orders[b]"]}
        assert storage.stale_partitions(ORDERS) == {}

    def test_partition_summaries_count_states_of_many_assets_at_once(
        self, storage: RunStorage
    ) -> None:
        for run_id in ("run-1", "run-2", "run-3"):
            self.add(storage, run_id)
        storage.store_events(
            [_materialized("run-1", ORDERS, timestamp=1.0, partition=p) for p in ("a", "b", "c")]
        )
        storage.store_events([_failed("run-2", ORDERS, "c"), _failed("run-2", ORDERS, "d")])
        reads = (_read(ORDERS, "a", "run-1"), _read(ORDERS, "b", "run-1"))
        storage.store_events([_materialized("run-2", REPORT, timestamp=2.0, consumed=reads)])
        summaries = storage.partition_summaries([ORDERS, REPORT, AssetKey("never_built")])
        assert set(summaries) == {ORDERS, REPORT}
        assert dict(summaries[ORDERS].by_state) == {
            ("materialized", "v1"): 2,
            ("failed", "v1"): 1,
            ("failed", None): 1,
        }
        assert summaries[REPORT].stale_upstream == 0

        storage.store_events([_materialized("run-3", ORDERS, timestamp=3.0, partition="b")])
        summaries = storage.partition_summaries([REPORT])
        assert summaries[REPORT].stale_upstream == 1
        assert dict(summaries[REPORT].by_state) == {("materialized", "v1"): 1}

    def test_lineage_graph_both_ways(self, storage: RunStorage) -> None:
        for run_id in ("run-1", "run-2", "run-3"):
            self.add(storage, run_id)
        storage.store_events(
            [_materialized("run-1", ORDERS, timestamp=1.0, partition=p) for p in ("a", "b", "c")]
        )
        reads = (_read(ORDERS, "a", "run-1"), _read(ORDERS, "b", "run-1"))
        storage.store_events([_materialized("run-2", REPORT, timestamp=2.0, consumed=reads)])
        storage.store_events([_materialized("run-3", ORDERS, timestamp=3.0, partition="b")])
        ids = {
            (m.partition, m.run_id): m.storage_id
            for m in storage.get_materializations(ORDERS) + storage.get_materializations(REPORT)
        }

        up = storage.lineage_graph(REPORT, partition=None, direction="upstream", depth=1, limit=10)
        assert up.roots == (ids[(None, "run-2")],)
        page = up.edges[ids[(None, "run-2")]]
        assert page.total == 2
        assert [(e.asset_key, e.partition, e.run_id, e.storage_id) for e in page.edges] == [
            (ORDERS, "a", "run-1", ids[("a", "run-1")]),
            (ORDERS, "b", "run-1", ids[("b", "run-1")]),
        ]
        assert up.superseded_inputs[ids[(None, "run-2")]] == 1  # "b" was rebuilt by run-3
        assert up.latest[(ORDERS, "b")] == ids[("b", "run-3")]

        down = storage.lineage_graph(
            ORDERS, partition="a", direction="downstream", depth=1, limit=10
        )
        assert down.roots == (ids[("a", "run-1")],)
        [reader] = down.edges[ids[("a", "run-1")]].edges
        assert (reader.asset_key, reader.run_id) == (REPORT, "run-2")

        newest_two = storage.lineage_graph(
            ORDERS, partition=None, direction="upstream", depth=0, limit=2
        )
        assert newest_two.total_partitions == 3
        assert newest_two.roots == (ids[("c", "run-1")], ids[("b", "run-3")])

        assert storage.partition_keys_near(ORDERS, "b", n=1) == ["a", "c"]
        assert storage.partition_keys_near(REPORT, "x") == [None]
        assert storage.partition_keys_near(AssetKey("never_built"), "x") == []

    # --- dynamic partitions ----------------------------------------------------------------

    def test_dynamic_partitions_add_list_and_remove(self, storage: RunStorage) -> None:
        assert storage.add_dynamic_partitions("customers", ["acme", "zeta", "acme"]) == [
            "acme",
            "zeta",
        ]
        assert storage.add_dynamic_partitions("customers", ["zeta", "beta"]) == ["beta"]
        assert storage.add_dynamic_partitions("customers", []) == []
        assert storage.add_dynamic_partitions("regions", ["eu"]) == ["eu"]
        assert storage.get_dynamic_partitions("customers") == ["acme", "zeta", "beta"]

        assert storage.remove_dynamic_partitions("customers", ["zeta", "nope", "zeta"]) == ["zeta"]
        assert storage.remove_dynamic_partitions("customers", []) == []
        assert storage.get_dynamic_partitions("customers") == ["acme", "beta"]
        assert storage.get_dynamic_partitions("regions") == ["eu"]
        assert storage.get_dynamic_partitions("unknown") == []

    def test_many_dynamic_partitions_at_once(self, storage: RunStorage) -> None:
        keys = [f"key-{index:04d}" for index in range(2_500)]
        assert storage.add_dynamic_partitions("many", keys[:1_000]) == keys[:1_000]
        assert storage.add_dynamic_partitions("many", keys) == keys[1_000:]
        assert sorted(storage.get_dynamic_partitions("many")) == keys
        assert storage.remove_dynamic_partitions("many", keys[::2]) == keys[::2]
        assert sorted(storage.get_dynamic_partitions("many")) == keys[1::2]

    # --- backfills -------------------------------------------------------------------------

    def test_backfill_records_round_trip_and_update(self, storage: RunStorage) -> None:
        storage.add_backfill(
            BackfillRecord(
                backfill_id="bf-123",
                status="REQUESTED",
                selection=("raw/orders", "report"),
                partitions={"range": ["2024-03-01", "2024-03-05"]},
                tags={"team": "sales"},
                created_at=5.0,
            )
        )
        storage.add_backfill(
            BackfillRecord(
                backfill_id="bf-456",
                status="REQUESTED",
                selection=(),
                partitions={},
                created_at=6.0,
            )
        )
        got = storage.get_backfill("bf-1")
        assert (got.backfill_id, got.status, got.selection, got.created_at) == (
            "bf-123",
            "REQUESTED",
            ("raw/orders", "report"),
            5.0,
        )
        assert (got.partitions, got.tags, got.run_ids) == (
            {"range": ["2024-03-01", "2024-03-05"]},
            {"team": "sales"},
            (),
        )

        storage.update_backfill("bf-123", status="RUNNING", add_run_id="run-1")
        storage.update_backfill("bf-12", add_run_id="run-2")
        got = storage.get_backfill("bf-123")
        assert (got.status, got.run_ids) == ("RUNNING", ("run-1", "run-2"))
        assert got.updated_at >= got.created_at

        assert [b.backfill_id for b in storage.list_backfills()] == ["bf-456", "bf-123"]
        assert [b.backfill_id for b in storage.list_backfills(limit=1)] == ["bf-456"]
        with pytest.raises(RaystraError, match="several"):
            storage.get_backfill("bf-")
        with pytest.raises(RaystraError, match="raystra backfill list"):
            storage.get_backfill("bf-9")

    def test_backfill_targets_are_upserted_and_counted(self, storage: RunStorage) -> None:
        storage.add_backfill(
            BackfillRecord(backfill_id="bf-1", status="RUNNING", selection=(), partitions={})
        )
        # More targets than one statement takes (5,000), and an unpartitioned one.
        targets = [("raw/orders", f"p{index:05d}", "requested") for index in range(6_000)]
        storage.set_backfill_targets("bf-1", [*targets, ("report", None, "requested")])
        storage.set_backfill_targets(
            "bf-1",
            [
                ("raw/orders", "p00001", "materialized"),
                ("raw/orders", "p00002", "failed"),
                ("raw/orders", "p00002", "materialized"),  # the last status of a target wins
                ("report", None, "failed"),
            ],
            run_id="run-2",
        )
        statuses = storage.backfill_target_statuses("bf-1")
        assert len(statuses) == 6_001
        assert statuses[("raw/orders", "p00002")] == "materialized"
        assert statuses[("report", None)] == "failed"
        record = storage.get_backfill("bf-1")
        assert dict(record.counts) == {"requested": 5_998, "materialized": 2, "failed": 1}
        assert record.total == 6_001
        assert storage.backfill_target_statuses("no-such-backfill") == {}
