"""The asset API over real runs: graph with states, one asset, selection, partition status."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import raystra
from raystra import DailyPartitionsDefinition, Definitions, HourlyPartitionsDefinition, asset
from raystra.definitions import AssetKey
from raystra.events import AssetMaterialized, RunStarted
from raystra.storage import RunRecord, open_storage
from raystra.web import create_app


def _by_key(client: TestClient) -> dict[str, dict]:
    return {a["key"]: a for a in client.get("/api/assets").json()["assets"]}


def test_asset_graph_shows_groups_deps_and_state(
    client: TestClient, defs: Definitions, project: Path
) -> None:
    before = _by_key(client)
    assert before["orders"]["state"] == "missing"
    assert before["report"]["deps"] == ["orders"]
    assert before["daily_sales"]["partitioned"] is True
    assert before["daily_sales"]["partitions_def"]["kind"] == "time_window"

    (project.parent / "flags" / "fail").touch()
    raystra.materialize(defs, "orders or report or fragile", raise_on_error=False)
    raystra.materialize(defs, "daily_sales", partition_key="2024-03-02")

    body = client.get("/api/assets").json()
    assert body["groups"] == ["daily", "marts", "raw", "slow"]
    assets = {a["key"]: a for a in body["assets"]}
    assert assets["orders"]["state"] == "fresh"
    assert assets["orders"]["group"] == "raw"
    assert assets["orders"]["last_materialization"]["metadata"]["byte_size"] > 0
    assert assets["report"]["state"] == "fresh"
    assert assets["fragile"]["state"] == "failed"
    assert assets["slow"]["state"] == "missing"
    daily = assets["daily_sales"]
    assert daily["state"] == "missing"  # one of seven days materialized
    assert daily["partition_counts"]["materialized"] == 1
    assert daily["partition_counts"]["total"] == 7


def test_a_changed_code_version_makes_the_asset_stale(
    client: TestClient, defs: Definitions
) -> None:
    raystra.materialize(defs, "orders")

    @asset(name="orders", group_name="raw", code_version="2")
    def orders_v2() -> list[int]:
        return [1]

    with TestClient(create_app(Definitions(assets=[orders_v2]))) as newer:
        assert _by_key(newer)["orders"]["state"] == "stale"


def test_asset_page_has_definition_fields_and_history(
    client: TestClient, defs: Definitions
) -> None:
    first = raystra.materialize(defs, "orders")
    second = raystra.materialize(defs, "orders")
    page = client.get("/api/assets/orders").json()
    assert page["description"] == "Orders as they land."
    assert page["metadata"] == {"owner": "data-eng"}
    assert page["code_version"] == "1"
    assert page["dependents"] == ["fragile", "report"]
    assert [m["run_id"] for m in page["materializations"]] == [second.run_id, first.run_id]
    assert page["materializations"][0]["metadata"]["path"].endswith("orders.pkl")

    missing = client.get("/api/assets/nope")
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]


def test_asset_keys_with_slashes_in_the_path() -> None:
    @asset(key_prefix=["raw"])
    def events() -> int:
        return 1

    defs = Definitions(assets=[events])
    raystra.materialize(defs)
    with TestClient(create_app(defs)) as client:
        assert client.get("/api/assets/raw%2Fevents").json()["key"] == "raw/events"
        assert client.get("/api/assets/raw/events").json()["state"] == "fresh"


def test_selection_uses_the_cli_syntax_and_reports_parse_errors(client: TestClient) -> None:
    assert client.get("/api/selection", params={"q": "+report"}).json() == {
        "keys": ["orders", "report"]
    }
    assert client.get("/api/selection", params={"q": "group:marts and not fragile+"}).json()[
        "keys"
    ] == ["report"]
    bad = client.get("/api/selection", params={"q": "+("})
    assert bad.status_code == 400
    assert "position" in bad.json()["detail"]


def test_partition_status_one_letter_per_partition(
    client: TestClient, defs: Definitions, project: Path
) -> None:
    raystra.materialize(defs, "daily_sales", partition_range="2024-03-01...2024-03-03")
    (project.parent / "flags" / "fail-2024-03-05").touch()
    raystra.materialize(defs, "daily_sales", partition_key="2024-03-05", raise_on_error=False)

    body = client.get("/api/assets/daily_sales/partitions").json()
    assert body["keys"][:3] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert len(body["keys"]) == 7
    assert body["states"] == "fffmxmm"
    assert body["legend"]["x"] == "failed"
    assert body["counts"] == {"missing": 3, "fresh": 3, "stale": 0, "failed": 1, "running": 0}
    unpartitioned = client.get("/api/assets/orders/partitions")
    assert unpartitioned.status_code == 400


def test_resources_show_an_env_var_by_name_never_its_value(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_TEST_DW_TOKEN", "hunter2-secret")
    response = client.get("/api/resources")
    warehouse = response.json()["resources"][0]
    assert warehouse["fields"] == {
        "url": "https://dw.example",
        "token": {"env_var": "WEB_TEST_DW_TOKEN"},
    }
    assert warehouse["env_vars"] == {"token": "WEB_TEST_DW_TOKEN"}
    assert "hunter2" not in response.text


@contextlib.contextmanager
def _counting_queries() -> Iterator[list[str]]:
    """SQL statements any engine runs inside the block (timing lives in benchmarks/bench_web.py)."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)


def _chains(count: int) -> Definitions:
    def make(i: int):  # chains of 100, in groups of 200
        @asset(name=f"a{i}", deps=[f"a{i - 1}"] if i % 100 else [], group_name=f"g{i // 200}")
        def node() -> None:
            return None

        return node

    return Definitions(assets=[make(i) for i in range(count)])


def _asset_list_queries(defs: Definitions) -> tuple[int, list[dict[str, Any]]]:
    raystra.materialize(defs, "*")
    with TestClient(create_app(defs)) as client:
        client.get("/api/assets")  # warm up (imports, first connection, migrations check)
        with _counting_queries() as statements:
            response = client.get("/api/assets")
    return len(statements), response.json()["assets"]


def test_two_thousand_assets_list_in_a_handful_of_queries() -> None:
    # The graph page must not cost a query per asset: 1,800 more assets add at most a few
    # chunked queries (how long it takes is measured by benchmarks/bench_web.py).
    small, _ = _asset_list_queries(_chains(200))
    large, assets = _asset_list_queries(_chains(2000))
    assert len(assets) == 2000
    assert {a["state"] for a in assets} == {"fresh"}
    assert large - small <= 10, f"{large} queries for 2,000 assets, {small} for 200"
    assert large <= 20


def test_fifty_thousand_partitions_answer_in_a_few_queries() -> None:
    hourly = HourlyPartitionsDefinition(start_date="2019-01-01-00:00", end_date="2024-09-14-08:00")

    @asset(partitions_def=hourly)
    def metrics() -> int:
        return 1

    defs = Definitions(assets=[metrics])
    keys = hourly.get_partition_keys()
    assert len(keys) >= 50_000
    # Recording 45,000 materializations through real runs would take minutes: store the
    # events a run would have stored, through the same storage call executors use.
    storage = open_storage()
    storage.add_run(RunRecord(run_id="bulk", created_at=1.0))
    storage.store_events([RunStarted(run_id="bulk")])
    storage.store_events(
        [
            AssetMaterialized(
                run_id="bulk", step_key=f"metrics[{k}]", asset_key=AssetKey("metrics"), partition=k
            )
            for k in keys[:45_000]
        ]
    )
    storage.close()
    with TestClient(create_app(defs)) as client:
        client.get("/api/assets/metrics/partitions")
        with _counting_queries() as statements:
            body = client.get("/api/assets/metrics/partitions").json()
    assert len(body["states"]) == len(keys)
    assert body["states"].count("f") == 45_000
    assert body["counts"]["missing"] == len(keys) - 45_000
    # One status string for every partition, from a handful of queries, not one per partition.
    assert len(statements) <= 20, f"{len(statements)} queries for {len(keys)} partitions"


def test_daily_definition_counts_match(client: TestClient) -> None:
    assert DailyPartitionsDefinition(start_date="2024-03-01", end_date="2024-03-08").count() == 7
