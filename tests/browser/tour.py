"""Refresh the UI tour screenshots in ``docs/images/`` (referenced from docs/web-ui.md).

Starts real ``raystra ui`` servers as the browser tests do (tests/browser/conftest.py), puts
runs, failures and backfills in their storage through the API, and photographs the pages
in Debian's Chromium::

    python -m tests.browser.tour            # writes docs/images/ui-*.png

Not a test: pytest does not collect it. With Pillow installed the PNGs are palette-reduced.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LARGE_PROJECT,
    Server,
    start_server,
    stop_server,
    wait_api,
)

OUT = Path(__file__).resolve().parents[2] / "docs" / "images"

TOUR_PROJECT = """
import time
from pathlib import Path

from raystra import DailyPartitionsDefinition, Definitions, MaterializeResult, asset

FLAGS = Path(__file__).parent / "flags"


@asset(group_name="raw", code_version="3", description="Orders as they land from the shop.",
       metadata={"owner": "data-eng", "source": "https://shop.example/orders"})
def orders(context) -> list[int]:
    context.log.info("loaded %d orders from the shop", 5)
    time.sleep(0.4)
    return [12, 7, 30, 5, 9]


@asset(group_name="raw", description="Customers from the CRM.")
def customers(context) -> list[str]:
    context.log.info("read 3 customers")
    time.sleep(0.3)
    return ["ana", "bo", "cy"]


@asset(group_name="marts", description="Revenue over all orders.")
def revenue(context, orders: list[int]) -> int:
    context.log.info("summing %d orders", len(orders))
    time.sleep(0.5)
    return sum(orders)


@asset(group_name="marts", description="Orders per customer.")
def orders_by_customer(context, orders: list[int], customers: list[str]) -> dict:
    context.log.warning("2 orders without a customer")
    time.sleep(0.3)
    return {c: len(orders) for c in customers}


@asset(group_name="marts", description="Fails while its flag file exists.")
def churn_model(orders_by_customer: dict) -> int:
    if (FLAGS / "fail").exists():
        raise RuntimeError("not enough history to fit the churn model")
    return len(orders_by_customer)


@asset(group_name="reports")
def weekly_report(revenue: int, churn_model: int) -> str:
    return f"{revenue} {churn_model}"


@asset(group_name="daily", description="Sales per day.",
       partitions_def=DailyPartitionsDefinition(start_date="2024-01-01",
                                                end_date="2026-12-01"))
def daily_sales(context) -> int:
    key = context.partition_key
    hold = FLAGS / f"hold-{key}"
    while hold.exists():
        time.sleep(0.05)
    if (FLAGS / f"fail-{key}").exists():
        raise RuntimeError(f"no sales file for {key}")
    time.sleep(0.02)
    return len(key)


defs = Definitions(assets=[orders, customers, revenue, orders_by_customer, churn_model,
                           weekly_report, daily_sales])
"""


def _finished_run(server: Server, run_id: str) -> None:
    wait_api(
        lambda: server.api("GET", f"/api/runs/{run_id}")["status"] in ("SUCCESS", "FAILURE"),
        what=f"run {run_id}",
    )


def _backfill(server: Server, first: str, last: str) -> str:
    body = {"selection": "daily_sales", "from": first, "to": last}
    backfill_id: str = server.api("POST", "/api/backfills", body)["backfill_id"]
    wait_api(
        lambda: (
            server.api("GET", f"/api/backfills/{backfill_id}")["status"] in ("COMPLETED", "FAILED")
        ),
        what=f"backfill {first}...{last}",
        timeout=600,
    )
    return backfill_id


def _save(page: Any, name: str) -> None:
    path = OUT / f"ui-{name}.png"
    page.screenshot(path=str(path))
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        # 256 colours keep the UI's flat colours exact; gradients are rare.
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MAXCOVERAGE).save(
            path, optimize=True
        )


def _tour(server: Server, large: Server, browser: Any) -> None:
    flags = server.project / "flags"
    # History: a run of everything, partitions (most of 2024-2025 fresh, a week failed), then
    # a run where the churn model fails: upstream fresh again, the report stale.
    first = server.api("POST", "/api/runs", {"selection": "orders+ or customers+"})["run_id"]
    _finished_run(server, first)
    for day in range(10, 17):
        (flags / f"fail-2024-09-{day}").touch()
    _backfill(server, "2024-01-01", "2025-08-31")
    (flags / "fail").touch()
    body = {"selection": "orders+ or customers+ and not key:weekly_report"}
    good = server.api("POST", "/api/runs", body)["run_id"]
    _finished_run(server, good)

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(120_000)

    page.goto(server.url + "/")
    page.locator('.node[data-key="orders"][data-state="fresh"]').wait_for()
    page.mouse.move(5, 5)
    _save(page, "graph")

    page.goto(large.url + "/")
    page.get_by_test_id("layout-info").wait_for()
    page.fill('input[name="select"]', "group:g4")
    page.press('input[name="select"]', "Enter")
    page.get_by_test_id("selection-count").wait_for()
    page.get_by_title("Fit the whole graph").click()
    time.sleep(0.5)
    _save(page, "graph-2000")

    page.goto(server.url + "/#/assets/daily_sales")
    bar = page.get_by_test_id("partitions-bar")
    bar.wait_for()
    box = bar.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.72, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.86, y, steps=5)
    page.mouse.up()
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    _save(page, "asset-partitions")

    page.goto(server.url + f"/#/runs/{good}")
    page.get_by_test_id("gantt").wait_for()
    _save(page, "run-gantt")
    page.get_by_role("tab", name="Logs").click()
    page.get_by_test_id("logs").get_by_text("summing 5 orders").wait_for()
    _save(page, "run-logs")

    hold = flags / "hold-2025-11-20"
    hold.touch()
    try:
        body = {"selection": "daily_sales", "from": "2025-09-01", "to": "2025-12-31"}
        backfill_id = server.api("POST", "/api/backfills", body)["backfill_id"]
        page.goto(server.url + f"/#/backfills/{backfill_id}")
        page.get_by_test_id("backfill-progress").get_by_text("80 / 122").wait_for()
        _save(page, "backfill-progress")
    finally:
        hold.unlink()
    context.close()


def main() -> None:
    """Start the servers, photograph the tour, stop the servers."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "tour", TOUR_PROJECT)
        large = start_server(Path(tmp) / "large", LARGE_PROJECT)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                try:
                    _tour(server, large, browser)
                finally:
                    browser.close()
        finally:
            stop_server(server)
            stop_server(large)


if __name__ == "__main__":
    main()
