"""Lineage straight from stored events: inputs nobody recorded, large fan-ins, and queries that
stay indexed and batched per level however many partitions there are."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import raystra
from raystra import AssetKey
from raystra.events import AssetMaterialized, data_version
from raystra.storage import RunRecord
from raystra.storage.sql import SqlRunStorage

DAYS = [f"2024-{month:02d}-{day:02d}" for month in range(1, 13) for day in range(1, 29)]  # 336


def _materialized(
    run_id: str, asset: str, partition: str | None = None, *, reads: list[dict[str, Any]] = ()
) -> AssetMaterialized:
    return AssetMaterialized(
        run_id=run_id,
        step_key=asset,
        asset_key=AssetKey.from_user_string(asset),
        partition=partition,
        data_version=data_version(asset, partition, run_id, None),
        consumed=tuple(reads),
    )


def _read(asset: str, partition: str | None, run_id: str | None) -> dict[str, Any]:
    version = data_version(asset, partition, run_id, None) if run_id else None
    return {"asset_key": asset, "partition": partition, "run_id": run_id, "data_version": version}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "raystra.db"


@pytest.fixture
def storage(path: Path) -> Iterator[SqlRunStorage]:
    """Days materialized in r1; ``year`` (unpartitioned) read every day in r2; ``report``
    read the year in r3."""
    store = SqlRunStorage(f"sqlite:///{path}")
    for run_id in ("r1", "r2", "r3", "r4"):
        store.add_run(RunRecord(run_id=run_id, created_at=1.0))
    store.store_events([_materialized("r1", "day", day) for day in DAYS])
    store.store_events([_materialized("r2", "year", reads=[_read("day", d, "r1") for d in DAYS])])
    store.store_events([_materialized("r3", "report", reads=[_read("year", None, "r2")])])
    yield store
    store.close()


def test_a_fan_in_shows_limit_inputs_but_counts_every_superseded_one(
    storage: SqlRunStorage,
) -> None:
    storage.store_events([_materialized("r4", "day", DAYS[-1])])  # not among the first 20

    [year] = raystra.lineage("year", storage=storage).partitions

    assert len(year.children) == 20 and year.total_children == len(DAYS)
    assert not any(child.superseded for child in year.children)
    assert year.superseded_inputs == 1 and year.stale
    # The report read the year, which was not rebuilt: it is not stale itself.
    [report] = raystra.lineage("report", depth=2, storage=storage).partitions
    assert report.superseded_inputs == 0
    assert report.children[0].superseded_inputs == 1


def test_an_input_read_before_anything_recorded_it_has_no_run(storage: SqlRunStorage) -> None:
    storage.store_events(
        [_materialized("r4", "summary", reads=[_read("vendor/prices", None, None)])]
    )

    [summary] = raystra.lineage("summary", storage=storage).partitions
    [prices] = summary.children
    assert (prices.label, prices.run_id, prices.materialization) == ("vendor/prices", None, None)
    assert not prices.superseded

    # Once something records it, what the summary read is out of date (as `stale` says).
    storage.store_events([_materialized("r4", "vendor/prices")])
    [prices] = raystra.lineage("summary", storage=storage).partitions[0].children
    assert prices.superseded and prices.latest is not None and prices.latest.run_id == "r4"
    assert storage.stale_partitions(AssetKey("summary")) == {None: ["vendor/prices"]}


def test_downstream_from_every_day_finds_the_year_and_the_report(storage: SqlRunStorage) -> None:
    tree = raystra.lineage("day", direction="downstream", depth=2, limit=3, storage=storage)

    assert [day.partition for day in tree.partitions] == DAYS[::-1][:3]
    assert tree.more_partitions == len(DAYS) - 3
    for day in tree.partitions:
        [year] = day.children
        assert (year.label, year.run_id) == ("year", "r2")
        [report] = year.children
        # The last level is counted, not followed: nothing read the report.
        assert (report.label, report.run_id, report.total_children) == ("report", "r3", 0)


class _Statements:
    """SELECTs run while active, to check their query plans."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "alembic" not in statement:
            self.seen.append((statement, params))


@pytest.fixture
def statements() -> Iterator[_Statements]:
    recorder = _Statements()
    sa.event.listen(sa.Engine, "before_cursor_execute", recorder)
    yield recorder
    sa.event.remove(sa.Engine, "before_cursor_execute", recorder)


_FULL_SCAN = re.compile(r"^SCAN (events|asset_partitions|asset_materializations|materialization_)")


@pytest.mark.parametrize(
    ("asset", "options"),
    [
        ("day", {}),
        ("year", {"depth": 2}),
        ("report", {"depth": 3}),
        ("day", {"direction": "downstream", "depth": 3}),
        ("year", {"direction": "downstream"}),
    ],
)
def test_every_query_searches_an_index(
    storage: SqlRunStorage,
    statements: _Statements,
    path: Path,
    asset: str,
    options: dict[str, Any],
) -> None:
    storage.store_events([_materialized("r4", "day", DAYS[3])])  # a superseded input

    raystra.lineage(asset, storage=storage, **options)

    assert statements.seen
    with sqlite3.connect(path) as db:
        for statement, params in statements.seen:
            plan = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", params)]
            scans = [step for step in plan if _FULL_SCAN.match(step)]
            assert scans == [], (statement, plan)


def test_queries_are_batched_per_level_not_per_partition(
    storage: SqlRunStorage, statements: _Statements
) -> None:
    raystra.lineage("day", direction="downstream", depth=2, limit=2, storage=storage)
    few = len(statements.seen)
    statements.seen.clear()

    raystra.lineage("day", direction="downstream", depth=2, limit=200, storage=storage)

    assert len(statements.seen) == few
