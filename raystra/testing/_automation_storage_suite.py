"""The automation part of the storage conformance suite (mixed into `RunStorageConformance`).

Example:
    >>> class TestMyStorage(AutomationStorageConformance):  # doctest: +SKIP
    ...     @pytest.fixture
    ...     def storage(self): ...
"""

from __future__ import annotations

import threading

import pytest

from raystra.storage._automation_records import AutomationEvaluation, TickRecord
from raystra.storage._base import RunRecord, RunStorage

__all__ = ["AutomationStorageConformance"]


class AutomationStorageConformance:
    """Schedule/sensor state, ticks, run keys and automation evaluations."""

    @pytest.fixture
    def storage(self) -> RunStorage:
        raise NotImplementedError("override the storage fixture")

    def test_instigator_state_fields_are_set_independently(self, storage: RunStorage) -> None:
        assert storage.get_instigator_states() == {}
        storage.save_instigator_state("nightly", kind="schedule", cursor="c1", last_tick_at=5.0)
        storage.save_instigator_state("nightly", kind="schedule", status="running")
        storage.save_instigator_state("watch", kind="sensor", status="stopped")
        state = storage.get_instigator_states(["nightly"])["nightly"]
        assert (state.kind, state.status, state.cursor, state.last_tick_at) == (
            "schedule",
            "running",
            "c1",
            5.0,
        )
        storage.save_instigator_state("nightly", kind="schedule", status=None)
        assert storage.get_instigator_states()["nightly"].status is None
        assert storage.get_instigator_states()["nightly"].cursor == "c1"
        assert set(storage.get_instigator_states()) == {"nightly", "watch"}

    def test_ticks_newest_first_and_filtered(self, storage: RunStorage) -> None:
        first = storage.add_tick(
            TickRecord(name="s", kind="sensor", tick_at=1.0, status="skipped", skip_reason="none")
        )
        second = storage.add_tick(
            TickRecord(
                name="s",
                kind="sensor",
                tick_at=2.0,
                status="success",
                run_ids=("r1", "r2"),
                run_keys=("a", "b"),
                cursor="7",
            )
        )
        storage.add_tick(TickRecord(name="other", kind="sensor", tick_at=3.0, status="failed"))
        ticks = storage.get_ticks("s")
        assert [t.tick_id for t in ticks] == [second, first]
        assert ticks[0].run_ids == ("r1", "r2") and ticks[0].cursor == "7"
        assert ticks[1].skip_reason == "none"
        assert [t.tick_id for t in storage.get_ticks("s", statuses=["success"])] == [second]
        assert len(storage.get_ticks("s", limit=1)) == 1

    def test_a_run_key_is_claimed_once_even_by_racing_threads(self, storage: RunStorage) -> None:
        won: list[str] = []
        barrier = threading.Barrier(4)

        def claim(run_id: str) -> None:
            barrier.wait()
            if storage.reserve_run_key("watch", "file-1.csv", run_id=run_id, request={}):
                won.append(run_id)

        threads = [threading.Thread(target=claim, args=(f"run-{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        record = storage.get_run_key("watch", "file-1.csv")
        assert record is not None and record.run_id == won[0]
        # Keys are per instigator: another sensor may use the same key.
        assert storage.reserve_run_key("other", "file-1.csv", run_id="x", request={})
        assert storage.get_run_key("watch", "nope") is None

    def test_pending_launches_are_reserved_keys_without_a_run(self, storage: RunStorage) -> None:
        request = {"selection": ["orders"], "partition_key": "a"}
        storage.reserve_run_key("watch", "k1", run_id="run-1", request=request)
        storage.reserve_run_key("watch", "k2", run_id="run-2", request={})
        storage.reserve_run_key("watch", "k3", run_id="run-3", request={})
        storage.add_run(RunRecord(run_id="run-2"))
        storage.record_launch_error("watch", "k3", "bad partition")
        pending = storage.pending_launches()
        assert [(p.run_key, p.run_id) for p in pending] == [("k1", "run-1")]
        assert dict(pending[0].request) == request
        failed = storage.get_run_key("watch", "k3")
        assert failed is not None and failed.launch_error == "bad partition"

    def test_automation_evaluations_replace_per_asset(self, storage: RunStorage) -> None:
        storage.save_automation_evaluations(
            [
                AutomationEvaluation(
                    asset_key="a",
                    condition="eager()",
                    evaluated_at=1.0,
                    requested=False,
                    reason="up to date",
                ),
                AutomationEvaluation(
                    asset_key="b",
                    condition="on_missing()",
                    evaluated_at=1.0,
                    requested=True,
                    reason="missing",
                    run_id="r1",
                ),
            ]
        )
        storage.save_automation_evaluations(
            [
                AutomationEvaluation(
                    asset_key="a",
                    condition="eager()",
                    evaluated_at=2.0,
                    requested=True,
                    reason="upstream updated",
                    run_id="r2",
                )
            ]
        )
        found = storage.get_automation_evaluations()
        assert set(found) == {"a", "b"}
        assert (found["a"].requested, found["a"].run_id, found["a"].evaluated_at) == (
            True,
            "r2",
            2.0,
        )
        assert found["b"].reason == "missing"
