"""A run page while the run is in progress: log lines arrive without a reload, the run is
canceled from the page; a traced run shows its trace id linked to the tracing backend.

A step's log lines are stored while it runs (live logs), so the page shows a held step's
first line before that step finishes, and a finished step's lines while the rest goes on.
"""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import TRACE_URL, Server, shot

pytestmark = __import__("pytest").mark.integration

RUN_TIMEOUT_MS = 120_000


def test_live_logs_while_running_then_cancel(flows_server: Server, page: Any) -> None:
    flags = flows_server.project / "flags"
    holds = [flags / "hold-prepare", flags / "hold-waiter"]
    for hold in holds:
        hold.touch()
    try:
        page.goto(flows_server.url + "/#/assets/waiter")
        page.get_by_role("button", name="Materialize…").click()
        dialog = page.get_by_role("dialog", name="Launch")
        dialog.locator('input[name="selection"]').fill("+waiter")
        dialog.get_by_role("button", name="Launch run").click()
        page.wait_for_url(lambda url: "/runs/" in url)
        status = page.get_by_test_id("run-status")
        status.get_by_text("started").wait_for(timeout=RUN_TIMEOUT_MS)

        page.get_by_role("tab", name="Logs").click()
        logs = page.get_by_test_id("logs")
        logs.locator(".log-kind", has_text="StepStarted").first.wait_for(timeout=RUN_TIMEOUT_MS)
        assert page.locator(".live-dot").is_visible()
        assert "prepare line" not in logs.inner_text()
        shot(page, "40-run-live-before")

        # prepare finishes: its lines appear on the open page while waiter still waits.
        holds[0].unlink()
        logs.get_by_text("prepare line 3 of 3").wait_for(timeout=RUN_TIMEOUT_MS)
        assert "prepare line 1 of 3" in logs.inner_text()
        assert status.inner_text() == "started"
        assert page.locator(".live-dot").is_visible()
        # waiter logs its first line, then holds: the line shows while waiter still runs.
        logs.get_by_text("waiter is waiting for its flag").wait_for(timeout=RUN_TIMEOUT_MS)
        assert status.inner_text() == "started"
        shot(page, "41-run-live-logs")

        page.get_by_role("tab", name="Timeline").click()
        steps = page.get_by_test_id("steps-table")
        assert steps.locator("tr", has_text="prepare").locator(".badge").inner_text() == "success"
        assert steps.locator("tr", has_text="waiter").locator(".badge").inner_text() != "success"

        page.get_by_role("button", name="Cancel run").click()
        status.get_by_text("canceled").wait_for(timeout=RUN_TIMEOUT_MS)
    finally:
        for hold in holds:
            hold.unlink(missing_ok=True)
    assert page.get_by_role("button", name="Cancel run").count() == 0
    assert steps.locator("tr", has_text="waiter").locator(".badge").inner_text() != "success"
    page.get_by_role("tab", name="Logs").click()
    page.get_by_test_id("logs").locator(".log-kind", has_text="RunCanceled").wait_for()
    assert page.locator(".live-dot").count() == 0
    assert "waiter done" not in page.get_by_test_id("logs").inner_text()
    shot(page, "42-run-canceled")


def test_traced_run_shows_its_trace_link(flows_server: Server, page: Any) -> None:
    run_id = flows_server.api("POST", "/api/runs", {"selection": "+waiter"})["run_id"]
    page.goto(flows_server.url + f"/#/runs/{run_id}")
    page.get_by_test_id("run-status").get_by_text("success").wait_for(timeout=RUN_TIMEOUT_MS)
    trace_id = flows_server.api("GET", f"/api/runs/{run_id}")["trace_id"]
    assert trace_id and len(trace_id) == 32
    link = page.get_by_test_id("trace").get_by_role("link", name=trace_id)
    assert link.get_attribute("href") == TRACE_URL.format(trace_id=trace_id)
    assert link.get_attribute("target") == "_blank"
    shot(page, "43-run-trace-link")
