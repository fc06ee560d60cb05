"""The Automation page against ``raystra dev`` (UI and daemon in one process): preview a sensor,
start it from the browser, watch the daemon's tick launch a run, and freshness recover."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Server, shot, start_server, stop_server

AUTOMATION_PROJECT = """
from raystra import Definitions, FreshnessPolicy, RunRequest, asset, schedule, sensor


@asset(group_name="raw", freshness_policy=FreshnessPolicy(maximum_lag_minutes=60))
def numbers() -> list[int]:
    return [1, 2, 3]


@sensor(target="numbers", minimum_interval_seconds=1)
def first_batch(context):
    # Launches numbers once, for the first batch.
    return RunRequest(run_key="batch-1")


@schedule(cron_schedule="0 6 * * *", target="numbers", execution_timezone="Europe/Paris")
def morning(context):
    return RunRequest()


defs = Definitions(assets=[numbers], schedules=[morning], sensors=[first_batch])
"""


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("ui-automation"),
        AUTOMATION_PROJECT,
        extra=["--interval", "0.5"],
        command_name="dev",
    )
    yield server
    stop_server(server)


def test_preview_then_start_a_sensor_and_its_run_shows_up(dev_server: Server, page: Any) -> None:
    page.goto(dev_server.url + "/#/automation")
    row = page.get_by_test_id("row-first_batch")
    row.wait_for()
    assert page.get_by_test_id("status-first_batch").inner_text() == "stopped"
    assert "0 6 * * * (Europe/Paris)" in page.get_by_test_id("row-morning").inner_text()
    freshness = page.get_by_test_id("freshness-table")
    assert "overdue" in freshness.inner_text()  # never materialized, 60-minute policy
    shot(page, "40-automation-before")

    row.get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("preview")
    preview.wait_for()
    text = preview.inner_text().lower()
    assert "numbers" in text and "batch-1" in text and "nothing was recorded" in text
    shot(page, "41-automation-preview")
    # The preview recorded no tick: the daemon has not evaluated a stopped sensor either.
    ticks = dev_server.api("GET", "/api/automation/first_batch/ticks")["ticks"]
    assert ticks == []

    row.get_by_role("button", name="Start").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=status-first_batch]').innerText === 'running'"
    )
    # The daemon inside `raystra dev` evaluates the started sensor and launches its run.
    row.get_by_role("button", name="first_batch").click()
    ticks_table = page.get_by_test_id("ticks-first_batch")
    ticks_table.wait_for(timeout=60_000)
    assert "success" in ticks_table.inner_text() and "batch-1" in ticks_table.inner_text()
    run_link = ticks_table.locator("a").first
    run_link.click()
    page.get_by_text("success", exact=True).first.wait_for(timeout=60_000)
    shot(page, "42-automation-run")

    page.goto(dev_server.url + "/#/automation")
    page.get_by_test_id("freshness-table").wait_for()
    page.wait_for_function(
        "document.querySelector('[data-testid=freshness-table]').innerText.includes('fresh')",
        timeout=30_000,
    )
    # Later ticks never relaunch batch-1 (run key), however often the sensor is evaluated.
    runs = dev_server.api("GET", "/api/runs")["runs"]
    assert len(runs) == 1
