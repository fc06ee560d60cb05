"""The asset page's checks section in a real browser: latest result per check, failing
partitions, a raising check's traceback, and the history."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Server, shot, start_server, stop_server

pytestmark = pytest.mark.integration

PROJECT = """
import raystra
from raystra import AssetCheckResult, Definitions, StaticPartitionsDefinition, asset, asset_check

SHOPS = StaticPartitionsDefinition(["berlin", "paris"])


@asset
def orders() -> list[int]:
    return [1, 2, 3]


@asset(partitions_def=SHOPS)
def shop_sales(context) -> list[int]:
    return [] if context.partition_key == "paris" else [5]


@asset_check(asset=orders, blocking=True, description="at least one order")
def has_orders(orders: list[int]) -> AssetCheckResult:
    return AssetCheckResult(passed=bool(orders), description=f"{len(orders)} orders")


@asset_check(asset=orders)
def looks_up_prices(orders: list[int]) -> AssetCheckResult:
    raise LookupError("price list unavailable")


@asset_check(asset=shop_sales)
def sold_something(shop_sales: list[int]) -> AssetCheckResult:
    return AssetCheckResult(passed=bool(shop_sales), severity="WARN")


defs = Definitions(
    [orders, shop_sales], asset_checks=[has_orders, looks_up_prices, sold_something]
)
"""


@pytest.fixture(scope="module")
def checks_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("ui-checks"), PROJECT)
    env = {**os.environ, "RAYSTRA_HOME": str(server.home), "RAYSTRA_EXECUTOR": "in_process"}
    env.pop("RAYSTRA_STORAGE_URL", None)
    project = str(server.project / "ui_project.py")
    for args in (["--select", "orders"], ["--select", "shop_sales", "--partition", "paris"]):
        subprocess.run(
            [sys.executable, "-m", "raystra.cli", "materialize", "-f", project, *args],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    yield server
    stop_server(server)


def test_checks_section_shows_latest_results(checks_server: Server, page: Any) -> None:
    page.goto(checks_server.url + "/#/assets/orders")
    section = page.get_by_test_id("checks")
    section.wait_for()
    assert section.locator("h3").inner_text().lower() == "checks (2)"
    passed = section.locator('tr[data-check="has_orders"]')
    assert "passed" in passed.inner_text() and "3 orders" in passed.inner_text()
    raised = section.locator('tr[data-check="looks_up_prices"]')
    assert "failed (error)" in raised.inner_text().lower()
    raised.locator("summary", has_text="traceback").click()
    assert "LookupError: price list unavailable" in raised.locator("pre").inner_text()
    shot(page, "checks-01-asset")

    page.goto(checks_server.url + "/#/assets/shop_sales")
    row = page.get_by_test_id("checks").locator('tr[data-check="sold_something"]')
    row.wait_for()
    assert "failed (warn)" in row.inner_text().lower() and "paris" in row.inner_text()
    page.get_by_test_id("checks").locator("summary", has_text="History").click()
    assert page.get_by_test_id("checks").locator("tbody").nth(1).locator("tr").count() == 1
    shot(page, "checks-02-partitioned")
