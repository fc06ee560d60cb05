"""Alembic migrations: a real upgrade from 0001 with the 0002 backfill, and no re-migration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from raystra.definitions._keys import AssetKey
from raystra.errors import RaystraError
from raystra.events import AssetMaterialized, LogMessage, event_to_dict
from raystra.storage._engine import alembic_config
from raystra.storage._schema import metadata
from raystra.storage.sql import SqlRunStorage

ORDERS = AssetKey(["raw", "orders"])
REPORT = AssetKey("report")
# The newest migration shipped (several engineers add migrations; none should edit this).
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


def _revision(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        revisions = list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    return revisions


def _insert_old_run(url: str, materializations: list[AssetMaterialized]) -> None:
    """Write a run the way a 0001-era raystra did: only runs and events."""
    runs = sa.table("runs", *(sa.column(name) for name in _RUN_COLUMNS))
    events = sa.table("events", *(sa.column(name) for name in _EVENT_COLUMNS))
    noise = LogMessage(run_id="old-run", timestamp=0.5, step_key="raw/orders", message="hi")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            runs.insert(),
            {
                "run_id": "old-run",
                "status": "SUCCESS",
                "selection": '["raw/orders", "report"]',
                "run_config": "{}",
                "tags": "{}",
                "executor": "in_process",
                "created_at": 0.0,
            },
        )
        conn.execute(events.insert(), [_event_row(e) for e in [noise, *materializations]])
    engine.dispose()


_RUN_COLUMNS = ("run_id", "status", "selection", "run_config", "tags", "executor", "created_at")
_EVENT_COLUMNS = ("run_id", "kind", "step_key", "asset_key", "timestamp", "payload")


def _event_row(event: Any) -> dict[str, Any]:
    asset_key = getattr(event, "asset_key", None)
    return {
        "run_id": event.run_id,
        "kind": event.kind,
        "step_key": event.step_key,
        "asset_key": asset_key.to_user_string() if asset_key else None,
        "timestamp": event.timestamp,
        "payload": json.dumps(event_to_dict(event)),
    }


def _materialized(key: AssetKey, index: int, partition: str | None) -> AssetMaterialized:
    return AssetMaterialized(
        run_id="old-run",
        timestamp=float(index),
        step_key=key.to_user_string(),
        asset_key=key,
        partition=partition,
        metadata={"index": index, "path": f"/data/{index}.parquet"},
        code_version="v0",
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/raystra.db"


def test_upgrade_from_0001_backfills_the_materialization_index(url: str) -> None:
    _upgrade(url, "0001")
    assert _revision(url) == ["0001"]
    # More rows than one backfill page, so paging is exercised.
    old = [_materialized(ORDERS, i, f"p{i}") for i in range(2_400)]
    old.append(_materialized(REPORT, 2_400, None))
    _insert_old_run(url, old)

    storage = SqlRunStorage(url)

    assert _revision(url) == [HEAD]
    latest = storage.latest_materializations()
    assert set(latest) == {ORDERS, REPORT}
    assert (latest[ORDERS].partition, latest[ORDERS].run_id) == ("p2399", "old-run")
    assert latest[ORDERS].metadata == {"index": 2399, "path": "/data/2399.parquet"}
    assert (latest[REPORT].partition, latest[REPORT].code_version) == (None, "v0")
    history = storage.get_materializations(ORDERS, limit=10_000)
    assert [m.partition for m in history] == [f"p{i}" for i in reversed(range(2_400))]
    events = storage.get_events("old-run", kinds=["AssetMaterialized"])
    assert {m.storage_id for m in history} | {latest[REPORT].storage_id} == {
        e.storage_id for e in events
    }
    storage.close()


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs while the fixture is active."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(sa.Engine, "before_cursor_execute", record)


def test_a_database_at_head_is_not_migrated_again(url: str, statements: list[str]) -> None:
    SqlRunStorage(url).close()
    assert any(s.lstrip().upper().startswith("CREATE TABLE") for s in statements)
    statements.clear()

    SqlRunStorage(url).close()

    assert statements, "opening should still check the revision"
    writes = [s for s in statements if not s.lstrip().upper().startswith(("SELECT", "PRAGMA"))]
    assert writes == []
    assert _revision(url) == [HEAD]


def test_a_database_from_a_newer_raystra_is_refused_clearly(url: str) -> None:
    SqlRunStorage(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(RaystraError, match=r"9999.*Upgrade raystra"):
        SqlRunStorage(url)


def test_migrations_build_exactly_the_schema_the_code_uses(url: str) -> None:
    SqlRunStorage(url).close()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
