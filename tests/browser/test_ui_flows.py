"""The UI's main paths in a real browser against the real server: graph, asset, launch, run,
logs, failure with traceback, re-execute, runs filter."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import Server, shot

pytestmark = __import__("pytest").mark.integration

RUN_TIMEOUT_MS = 120_000


def test_graph_asset_launch_run_and_logs(small_server: Server, page: Any) -> None:
    page.goto(small_server.url + "/")
    orders = page.locator('.node[data-key="orders"]')
    orders.wait_for()
    # Grouped by group_name, coloured by state: nothing has run yet.
    assert page.locator(".node").count() == 5
    assert orders.get_attribute("data-state") == "missing"
    assert "5" in page.locator(".legend-row", has_text="missing").inner_text()
    shot(page, "01-graph")

    # The search box takes the selection syntax; a bad one shows the parser's message.
    page.fill('input[name="select"]', "orders+")
    page.press('input[name="select"]', "Enter")
    page.get_by_test_id("selection-count").wait_for()
    assert page.get_by_test_id("selection-count").inner_text() == "4 selected"
    hits = {e.get_attribute("data-key") for e in page.locator(".node.hit").all()}
    assert hits == {"orders", "revenue", "fragile", "after_fragile"}
    shot(page, "02-graph-selection")
    page.fill('input[name="select"]', "group:(")
    page.press('input[name="select"]', "Enter")
    page.locator(".sel-error").wait_for()
    assert page.locator(".sel-error").inner_text().strip()

    orders.click()
    page.wait_for_url(re.compile(r"#/assets/orders$"))
    page.get_by_text("Orders as they land from the shop.").wait_for()
    assert page.locator(".kv", has_text="Code version").first.inner_text().count("3") >= 1
    assert page.get_by_role("link", name="https://shop.example/orders").count() == 1
    assert "revenue" in page.locator(".card", has_text="Downstream").inner_text()
    assert "Never materialized" in page.inner_text("body")
    shot(page, "03-asset-before")

    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog", name="Launch")
    assert dialog.locator('input[name="selection"]').input_value() == "orders"
    dialog.locator('input[name="selection"]').fill("orders+")
    shot(page, "04-launch-dialog")
    dialog.get_by_role("button", name="Launch run").click()

    page.wait_for_url(re.compile(r"#/runs/[0-9a-f-]{36}$"))
    status = page.get_by_test_id("run-status")
    status.locator(".badge.fail, .badge.ok").wait_for(timeout=RUN_TIMEOUT_MS)
    assert status.inner_text() == "success"
    steps = page.get_by_test_id("steps-table")
    for key in ("orders", "revenue", "fragile", "after_fragile"):
        assert steps.locator("tr", has_text=key).first.locator(".badge.ok").count() == 1
    assert page.get_by_test_id("gantt").locator(".gantt-bar").count() == 4
    shot(page, "05-run-success")

    page.get_by_role("tab", name="Logs").click()
    logs = page.get_by_test_id("logs")
    logs.get_by_text("summing 5 orders").wait_for()
    assert "loaded 5 orders from the shop" in logs.inner_text()
    shot(page, "06-run-logs")

    # The asset page now lists the materialization with its stored metadata.
    page.goto(small_server.url + "/#/assets/revenue")
    history = page.get_by_test_id("materializations")
    history.wait_for()
    assert history.locator("tbody tr").count() == 1
    assert "revenue" in history.locator("td.path").inner_text()
    page.goto(small_server.url + "/#/")
    page.locator('.node[data-key="revenue"][data-state="fresh"]').wait_for()
    assert page.locator('.node[data-key="events"]').get_attribute("data-state") == "missing"
    shot(page, "07-graph-after-run")


def test_failed_run_traceback_reexecute_and_runs_filter(small_server: Server, page: Any) -> None:
    flag = small_server.project / "flags" / "fail"
    flag.touch()
    try:
        run_id = small_server.api("POST", "/api/runs", {"selection": "fragile+"})["run_id"]
        page.goto(small_server.url + f"/#/runs/{run_id}")
        status = page.get_by_test_id("run-status")
        status.locator(".badge.fail").wait_for(timeout=RUN_TIMEOUT_MS)
    finally:
        flag.unlink()
    steps = page.get_by_test_id("steps-table")
    row = steps.locator("tr", has_text="fragile").first
    row.get_by_role("button", name="show error").click()
    traceback = page.get_by_test_id("traceback")
    text = traceback.inner_text()
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: fragile was told to fail by its flag file" in text
    assert "ui_project.py" in text
    assert steps.locator("tr", has_text="after_fragile").locator(".badge").inner_text() != "success"
    shot(page, "08-run-failed-traceback")

    page.get_by_role("button", name="Re-execute from failure").click()
    page.wait_for_url(lambda url: run_id not in url and "/runs/" in url)
    page.get_by_test_id("run-status").locator(".badge.ok, .badge.fail").wait_for(
        timeout=RUN_TIMEOUT_MS
    )
    assert page.get_by_test_id("run-status").inner_text() == "success"
    assert run_id in page.locator(".run-kv").inner_text()  # "Re-execution of" links the parent
    shot(page, "09-reexecuted")

    page.goto(small_server.url + "/#/runs?status=FAILURE")
    table = page.get_by_test_id("runs-table")
    table.wait_for()
    ids = [a.get_attribute("href") for a in table.locator("tbody tr td:first-child a").all()]
    assert ids and all(link is not None for link in ids)
    assert any(run_id in str(link) for link in ids)
    assert table.locator(".badge.ok").count() == 0
    shot(page, "10-runs-failed-filter")
