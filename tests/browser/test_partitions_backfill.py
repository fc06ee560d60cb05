"""An asset with 50,000 partitions in a real browser: the partitions bar shows them all with
the states in storage, a range dragged on the bar launches a backfill, whose progress view
moves while it runs; it is canceled, resumed and finishes."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import Server, shot, wait_api

pytestmark = __import__("pytest").mark.integration

RUN_TIMEOUT_MS = 120_000


def _backfill(server: Server, first: str, last: str, *, expect: str) -> None:
    made = server.api("POST", "/api/backfills", {"selection": "events", "from": first, "to": last})
    backfill_id = made["backfill_id"]
    wait_api(
        lambda: server.api("GET", f"/api/backfills/{backfill_id}")["status"] == expect,
        what=f"backfill {first}...{last} to end {expect}",
    )


def _drag(page: Any, x0: float, x1: float, y: float) -> None:
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y, steps=3)
    page.mouse.move(x1, y, steps=3)
    page.mouse.up()


def test_partitions_bar_backfill_progress_cancel_resume(flows_server: Server, page: Any) -> None:
    # In storage before the page opens: 200 partitions fresh, 20 failed, the rest missing.
    _backfill(flows_server, "p00000", "p00199", expect="COMPLETED")
    fail = flows_server.project / "flags" / "fail"
    fail.touch()
    try:
        _backfill(flows_server, "p30000", "p30019", expect="FAILED")
    finally:
        fail.unlink()

    page.goto(flows_server.url + "/#/assets/events")
    bar = page.get_by_test_id("partitions-bar")
    bar.wait_for()
    page.wait_for_function(
        "document.querySelector('[data-testid=partitions-bar]').dataset.partitions === '50000'"
    )
    legend = page.locator(".pbar-legend")
    assert "50,000 partitions" in legend.inner_text()
    counts = {
        span.inner_text().rsplit(" ", 1)[0]: span.inner_text().rsplit(" ", 1)[1]
        for span in legend.locator("span:has(i)").all()
    }
    assert counts == {
        "fresh": "200",
        "failed": "20",
        "missing": "49,780",
        "stale": "0",
        "running": "0",
    }
    shot(page, "30-partitions-bar")

    # A few pixels of the bar hold a hundred-odd partitions: select them, zoom to them, then
    # drag across ten.
    box = bar.bounding_box()
    y = box["y"] + box["height"] / 2
    start = box["x"] + box["width"] * 0.2
    _drag(page, start, start + 3, y)
    page.get_by_role("button", name="Zoom to selection").click()
    shown = re.search(r"showing p(\d{5}) … p(\d{5})", legend.inner_text())
    assert shown, legend.inner_text()
    lo, hi = int(shown.group(1)), int(shown.group(2))
    span = hi - lo + 1
    assert 20 <= span <= 500

    def x_of(index: int) -> float:
        return float(box["x"] + (index - lo + 0.5) / span * box["width"])

    first = lo + 2
    _drag(page, x_of(first), x_of(first + 9), y)
    selected = page.get_by_test_id("partition-selection")
    assert f"p{first:05d}" in selected.inner_text() and "(10 partitions)" in selected.inner_text()
    shot(page, "31-partitions-range")

    # The sixth partition waits for its flag: the first five finish, then progress stalls.
    held = flows_server.project / "flags" / f"hold-p{first + 5:05d}"
    held.touch()
    try:
        page.get_by_role("button", name="Backfill 10 partitions…").click()
        dialog = page.get_by_role("dialog", name="Launch")
        assert dialog.locator('input[name="from"]').input_value() == f"p{first:05d}"
        assert dialog.locator('input[name="to"]').input_value() == f"p{first + 9:05d}"
        assert dialog.locator('input[name="as_backfill"]').is_checked()
        dialog.get_by_role("button", name="Launch backfill").click()
        page.wait_for_url(re.compile(r"#/backfills/[0-9a-f]{12}$"))
        progress = page.get_by_test_id("backfill-progress")
        progress.get_by_text("5 / 10").wait_for(timeout=RUN_TIMEOUT_MS)
        assert page.get_by_test_id("backfill-status").inner_text() == "running"
        # Its run, listed below, shows as in progress too (the list follows it).
        runs = page.locator(".card", has_text="Runs").locator("tbody tr")
        runs.first.locator(".badge", has_text="started").wait_for()
        shot(page, "32-backfill-progress")

        page.get_by_role("button", name="Cancel backfill").click()
        page.get_by_test_id("backfill-status").get_by_text("canceled").wait_for(
            timeout=RUN_TIMEOUT_MS
        )
    finally:
        held.unlink()
    assert page.get_by_test_id("backfill-progress").inner_text().startswith("5 / 10")
    shot(page, "33-backfill-canceled")

    page.get_by_role("button", name="Resume").click()
    page.get_by_test_id("backfill-status").get_by_text("completed").wait_for(timeout=RUN_TIMEOUT_MS)
    assert page.get_by_test_id("backfill-progress").inner_text().startswith("10 / 10")
    runs.nth(1).wait_for()
    assert runs.count() == 2
    shot(page, "34-backfill-completed")

    # Back on the asset, the bar counts the ten new partitions.
    page.goto(flows_server.url + "/#/assets/events")
    page.locator(".pbar-legend span", has_text="fresh").get_by_text("210").wait_for()
