"""The run storage conformance suite against a real PostgreSQL server, plus its migrations.

The server is the session's throwaway one (``postgres_server`` in tests/conftest.py). Each
conformance test gets its own database, copied from a template migrated once, so every test
starts empty and the migrations themselves are tested separately below.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from raystra.definitions._keys import AssetKey
from raystra.errors import RaystraError
from raystra.events import AssetMaterialized, LogMessage, RunStarted, RunStatus, event_to_dict
from raystra.storage import RunRecord, RunStorage, open_storage
from raystra.storage._engine import alembic_config
from raystra.storage._schema import metadata
from raystra.storage.sql import SqlRunStorage
from raystra.testing.storage_suite import RunStorageConformance

if TYPE_CHECKING:  # conftest modules are not imported by tests
    from postgres_server import PostgresServer

# The newest shipped revision, whatever it is.
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
_TEMPLATE = "raystra_template"


@pytest.fixture(scope="module")
def template(postgres_server: PostgresServer) -> str:
    """A database at the head revision, copied for each conformance test."""
    url = postgres_server.create_database(_TEMPLATE)
    SqlRunStorage(url).close()  # closing drops every connection: CREATE ... TEMPLATE needs that
    return _TEMPLATE


@pytest.fixture
def empty_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database with no tables at all, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(sa.make_url(url).database or "")


class TestPostgresRunStorage(RunStorageConformance):
    @pytest.fixture
    def storage(self, postgres_server: PostgresServer, template: str) -> Iterator[RunStorage]:
        url = postgres_server.create_database(template=template)
        storage = SqlRunStorage(url)
        yield storage
        storage.close()
        postgres_server.drop_database(sa.make_url(url).database or "")


def _revision(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        revisions = list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    return revisions


def test_open_storage_reads_the_postgres_url_from_the_environment(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAYSTRA_STORAGE_URL", empty_url)
    storage = open_storage()
    storage.add_run(RunRecord(run_id="r1", created_at=1.0))
    storage.store_events([RunStarted(run_id="r1", timestamp=2.0)])
    assert repr(storage).startswith("SqlRunStorage('postgresql+psycopg://raystra:***@127.0.0.1")
    storage.close()
    # Without a driver, as most tools write the URL: raystra picks psycopg 3.
    plain = empty_url.replace("postgresql+psycopg://", "postgresql://")
    reopened = open_storage(plain)
    assert reopened.get_run("r1").status is RunStatus.STARTED
    reopened.close()


def test_migrations_build_exactly_the_schema_the_code_uses(empty_url: str) -> None:
    SqlRunStorage(empty_url).close()
    assert _revision(empty_url) == [HEAD]
    engine = sa.create_engine(empty_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        event_id = conn.execute(
            sa.text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'events' AND column_name = 'id'"
            )
        ).scalar_one()
    engine.dispose()
    assert diff == []
    assert event_id == "bigint"  # event logs outgrow 2**31 rows


def test_a_database_at_head_is_not_migrated_again(empty_url: str) -> None:
    SqlRunStorage(empty_url).close()
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        SqlRunStorage(empty_url).close()
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    assert seen, "opening should still check the revision"
    assert [s for s in seen if not s.lstrip().upper().startswith("SELECT")] == []


def test_a_database_from_a_newer_raystra_is_refused_clearly(empty_url: str) -> None:
    SqlRunStorage(empty_url).close()
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(RaystraError, match=r"9999.*Upgrade raystra") as info:
        SqlRunStorage(empty_url)
    assert "***" in str(info.value)  # the password is not shown


def test_upgrade_from_0001_backfills_indexes_and_partition_status(empty_url: str) -> None:
    """Migrations 0002 (Python backfill) and 0003 (INSERT ... SELECT) on data, on Postgres."""
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    orders = AssetKey(["raw", "orders"])
    old = [
        AssetMaterialized(
            run_id="old-run",
            timestamp=float(i),
            step_key="raw/orders",
            asset_key=orders,
            partition=f"p{i % 3}",
            metadata={"index": i},
            code_version="v0",
        )
        for i in range(1_200)  # more than one backfill page
    ]
    noise = LogMessage(run_id="old-run", timestamp=0.5, step_key="raw/orders", message="hi")
    runs_extra = {"run_config": "{}", "tags": "{}", "executor": "in_process", "created_at": 0.0}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO runs (run_id, status, selection, run_config, tags, executor, "
                "created_at) VALUES ('old-run', 'SUCCESS', '[\"raw/orders\"]', :run_config, "
                ":tags, :executor, :created_at)"
            ),
            runs_extra,
        )
        conn.execute(
            sa.text(
                "INSERT INTO events (run_id, kind, step_key, asset_key, timestamp, payload) "
                "VALUES (:run_id, :kind, :step_key, :asset_key, :timestamp, :payload)"
            ),
            [
                {
                    "run_id": e.run_id,
                    "kind": e.kind,
                    "step_key": e.step_key,
                    "asset_key": "raw/orders" if isinstance(e, AssetMaterialized) else None,
                    "timestamp": e.timestamp,
                    "payload": json.dumps(event_to_dict(e)),
                }
                for e in [noise, *old]
            ],
        )
    engine.dispose()

    storage = SqlRunStorage(empty_url)

    assert _revision(empty_url) == [HEAD]
    assert len(storage.get_materializations(orders, limit=10_000)) == 1_200
    latest = storage.latest_materializations()[orders]
    assert (latest.partition, latest.metadata) == ("p2", {"index": 1_199})
    states = storage.partition_states(orders)
    assert {key: state.status for key, state in states.items()} == dict.fromkeys(
        ("p0", "p1", "p2"), "materialized"
    )
    storage.close()
