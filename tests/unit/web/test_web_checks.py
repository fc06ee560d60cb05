"""``GET /api/assets/{key}/checks``: each check's newest result, per partition, and history."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import raystra
from raystra.cli._loading import DefinitionsTarget, load_definitions
from raystra.definitions import Definitions
from raystra.web import create_app

PROJECT = """
from pathlib import Path

import raystra
from raystra import AssetCheckResult, Definitions, StaticPartitionsDefinition, asset, asset_check

FLAGS = Path(__file__).parent / "flags"
SHOPS = StaticPartitionsDefinition(["berlin", "paris", "rome"])


@asset
def orders() -> list[int]:
    return [1, 2, 3] if (FLAGS / "full").exists() else []


@asset
def report(orders: list[int]) -> int:
    return sum(orders)


@asset(partitions_def=SHOPS)
def shop_sales(context) -> list[int]:
    return [] if context.partition_key == "paris" else [5]


@asset
def unchecked() -> int:
    return 1


@asset_check(asset=orders, blocking=True, description="orders arrived")
def has_orders(orders: list[int]) -> AssetCheckResult:
    return AssetCheckResult(passed=bool(orders), metadata={"rows": len(orders)})


@asset_check(asset=orders)
def never_raises(orders: list[int]) -> AssetCheckResult:
    if not orders:
        raise ValueError("no orders to look at")
    return AssetCheckResult(passed=True)


@asset_check(asset=orders)
def always_true(orders: list[int]) -> bool:
    return True


@asset_check(asset=shop_sales)
def sold_something(shop_sales: list[int]) -> AssetCheckResult:
    return AssetCheckResult(passed=bool(shop_sales), severity="WARN")


defs = Definitions(
    [orders, report, shop_sales, unchecked],
    asset_checks=[has_orders, never_raises, sold_something, always_true],
)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "flags").mkdir(parents=True)
    path = folder / "checks_project.py"
    path.write_text(textwrap.dedent(PROJECT))
    return path


@pytest.fixture
def defs(project: Path) -> Definitions:
    return load_definitions(DefinitionsTarget(file=project))


@pytest.fixture
def client(defs: Definitions) -> TestClient:
    with TestClient(create_app(defs)) as client:
        yield client  # type: ignore[misc]


def _by_name(client: TestClient, key: str) -> dict[str, dict]:
    response = client.get(f"/api/assets/{key}/checks")
    assert response.status_code == 200, response.text
    return {c["name"]: c for c in response.json()["checks"]}


def test_latest_result_per_check_and_history(
    client: TestClient, defs: Definitions, project: Path
) -> None:
    before = _by_name(client, "orders")
    assert set(before) == {"has_orders", "never_raises", "always_true"}
    assert before["has_orders"]["latest"] is None and before["has_orders"]["blocking"]
    assert before["has_orders"]["description"] == "orders arrived"

    first = raystra.materialize(defs, "orders or report", raise_on_error=False)
    assert not first.success
    (project.parent / "flags" / "full").touch()
    second = raystra.materialize(defs, "orders or report")

    checks = _by_name(client, "orders")
    latest = checks["has_orders"]["latest"]
    assert latest["passed"] and latest["run_id"] == second.run_id
    assert latest["metadata"] == {"rows": 3} and latest["partition"] is None
    assert checks["has_orders"]["partitions"] is None
    assert checks["never_raises"]["latest"]["passed"]
    body = client.get("/api/assets/orders/checks").json()
    history = [(h["check_name"], h["run_id"], h["passed"]) for h in body["history"]]
    assert ("has_orders", first.run_id, False) in history
    assert history.index(("has_orders", second.run_id, True)) < history.index(
        ("has_orders", first.run_id, False)
    )
    blocked = next(h for h in body["history"] if h["run_id"] == first.run_id and h["blocked"])
    assert blocked["check_name"] == "has_orders" and blocked["severity"] == "ERROR"
    raised = next(
        h for h in body["history"] if h["run_id"] == first.run_id and h["error"] is not None
    )
    assert raised["check_name"] == "never_raises" and "no orders to look at" in raised["error"]
    one = client.get("/api/assets/orders/checks", params={"limit": 1}).json()["history"]
    assert len(one) == 1


def test_partitioned_results_per_partition(client: TestClient, defs: Definitions) -> None:
    raystra.materialize(defs, "shop_sales", partition_range="berlin...rome")
    (check,) = _by_name(client, "shop_sales").values()
    assert set(check["partitions"]) == {"berlin", "paris", "rome"}
    assert check["partitions"]["paris"]["passed"] is False
    assert check["partitions"]["paris"]["severity"] == "WARN"
    assert check["partitions"]["berlin"]["passed"] is True
    assert check["failed_partitions"] == ["paris"]


def test_assets_without_checks_and_unknown_assets(client: TestClient) -> None:
    body = client.get("/api/assets/unchecked/checks").json()
    assert body == {"key": "unchecked", "checks": [], "history": []}
    missing = client.get("/api/assets/nope/checks")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
