"""`RunStorage.find_runs` (the web UI's runs list) on SQLite and PostgreSQL: step keys matched
exactly or as partitions, LIKE wildcards taken literally, paging and status filters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from raystra.events import RunStatus
from raystra.storage import RunRecord
from raystra.storage.sql import SqlRunStorage


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRunStorage]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/runs.db"
    else:
        url = request.getfixturevalue("postgres_url")
    store = SqlRunStorage(url)
    yield store
    store.close()


def test_find_runs_by_step_key_partition_status_and_cursor(storage: SqlRunStorage) -> None:
    # Unique names: the PostgreSQL database is shared by the session.
    p = f"t{uuid.uuid4().hex[:8]}"
    records = [
        RunRecord(run_id=f"{p}-1", created_at=1.0, selection=(f"{p}_orders", f"{p}_report")),
        RunRecord(
            run_id=f"{p}-2",
            created_at=2.0,
            selection=(f"{p}_orders_x[2024-03-01]",),
            status=RunStatus.SUCCESS,
        ),
        RunRecord(run_id=f"{p}-3", created_at=3.0, selection=(f"{p}_a_b[p1...p9]", f"{p}_é")),
        RunRecord(run_id=f"{p}-4", created_at=4.0, selection=(f"{p}_orders",)),
    ]
    for record in records:
        storage.add_run(record)

    def ids(*keys: str, **options: Any) -> list[str]:
        found = storage.find_runs(step_keys=[f"{p}_{k}" for k in keys], **options)
        return [r.run_id.removeprefix(f"{p}-") for r in found]

    assert ids("orders") == ["4", "1"]
    assert ids("orders_x") == ["2"]  # a partition of the step
    assert ids("report", "orders_x") == ["2", "1"]
    assert ids("a%b") == [] and ids("a_b") == ["3"]  # % and _ are not wildcards
    assert ids("é") == ["3"]
    assert ids("orders", created_before=4.0) == ["1"]
    assert ids("orders", limit=1) == ["4"]
    assert ids("orders", "orders_x", statuses=[RunStatus.SUCCESS]) == ["2"]
    assert storage.find_runs(step_keys=[]) == []
