"""The asset-check part of the storage conformance suite (mixed into `RunStorageConformance`).

Example:
    >>> class TestMyStorage(CheckStorageConformance):  # doctest: +SKIP
    ...     @pytest.fixture
    ...     def storage(self): ...
"""

from __future__ import annotations

import pytest

from raystra.definitions._keys import AssetKey
from raystra.events import AssetCheckEvaluated, ErrorInfo
from raystra.storage._base import RunRecord, RunStorage

__all__ = ["CheckStorageConformance"]

_ORDERS = AssetKey(["raw", "orders"])
_DAILY = AssetKey("daily")


def _evaluated(
    run_id: str,
    check: str,
    *,
    passed: bool,
    asset_key: AssetKey = _ORDERS,
    partition: str | None = None,
    timestamp: float = 1.0,
    error: ErrorInfo | None = None,
) -> AssetCheckEvaluated:
    return AssetCheckEvaluated(
        run_id=run_id,
        timestamp=timestamp,
        step_key=f"{asset_key.to_user_string()}:{check}",
        asset_key=asset_key,
        check_name=check,
        partition=partition,
        passed=passed,
        severity="ERROR" if check != "warned" else "WARN",
        blocking=check == "blocking",
        metadata={"rows": 3, "columns": ["a", "b"], "ratio": 0.5},
        description=f"{check} said so",
        error=error,
    )


class CheckStorageConformance:
    """Check results stored with their events: latest per check and partition, and history."""

    @pytest.fixture
    def storage(self) -> RunStorage:
        raise NotImplementedError("override the storage fixture")

    def test_check_results_keep_every_field_and_come_newest_first(
        self, storage: RunStorage
    ) -> None:
        for run_id in ("r1", "r2"):
            storage.add_run(RunRecord(run_id=run_id, created_at=1.0))
        error = ErrorInfo(type_name="ValueError", message="bad", traceback="Traceback: bad")
        storage.store_events([_evaluated("r1", "blocking", passed=False, error=error)])
        storage.store_events([_evaluated("r2", "blocking", passed=True, timestamp=2.0)])
        history = storage.get_check_results(_ORDERS)
        assert [(r.run_id, r.passed) for r in history] == [("r2", True), ("r1", False)]
        first = history[1]
        assert first.check_name == "blocking" and first.partition is None
        assert first.severity == "ERROR" and first.blocking and first.blocked
        assert first.metadata == {"rows": 3, "columns": ["a", "b"], "ratio": 0.5}
        assert first.description == "blocking said so" and first.error == "Traceback: bad"
        assert first.step_key == "raw/orders:blocking" and first.timestamp == 1.0
        assert not history[0].blocked
        assert storage.get_check_results(_ORDERS, run_id="r1")[0].run_id == "r1"
        assert storage.get_check_results(_ORDERS, check_name="other") == []

    def test_latest_results_are_per_check_and_partition(self, storage: RunStorage) -> None:
        storage.add_run(RunRecord(run_id="r1", created_at=1.0))
        storage.add_run(RunRecord(run_id="r2", created_at=2.0))
        storage.store_events(
            [
                _evaluated("r1", "rows", passed=False, asset_key=_DAILY, partition="2024-01-01"),
                _evaluated("r1", "rows", passed=True, asset_key=_DAILY, partition="2024-01-02"),
                _evaluated("r1", "warned", passed=False),
            ]
        )
        storage.store_events(
            [_evaluated("r2", "rows", passed=True, asset_key=_DAILY, partition="2024-01-01")]
        )
        latest = storage.latest_check_results()
        daily = [(r.check_name, r.partition, r.run_id, r.passed) for r in latest[_DAILY]]
        assert daily == [
            ("rows", "2024-01-01", "r2", True),
            ("rows", "2024-01-02", "r1", True),
        ]
        assert [(r.check_name, r.severity) for r in latest[_ORDERS]] == [("warned", "WARN")]
        assert set(storage.latest_check_results([_ORDERS])) == {_ORDERS}
        assert storage.latest_check_results([AssetKey("unchecked")]) == {}
        january_first = storage.get_check_results(_DAILY, partition="2024-01-01")
        assert [r.run_id for r in january_first] == ["r2", "r1"]

    def test_check_events_stay_in_the_run_event_log(self, storage: RunStorage) -> None:
        storage.add_run(RunRecord(run_id="r1", created_at=1.0))
        event = _evaluated("r1", "rows", passed=False)
        storage.store_events([event])
        stored = storage.get_events("r1", kinds=[AssetCheckEvaluated.kind])
        assert [s.event for s in stored] == [event]
