"""Runs through the API: history with steps and logs, and runs launched as real processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import finished_run, wait_for
from fastapi.testclient import TestClient

import raystra
from raystra.definitions import AssetKey, Definitions
from raystra.events import RunStatus
from raystra.storage import RunRecord, open_storage


def test_runs_list_filters_and_run_page(
    client: TestClient, defs: Definitions, project: Path
) -> None:
    good = raystra.materialize(defs, "orders or report")
    (project.parent / "flags" / "fail").touch()
    bad = raystra.materialize(defs, "fragile+", raise_on_error=False)

    runs = client.get("/api/runs").json()["runs"]
    assert [r["run_id"] for r in runs] == [bad.run_id, good.run_id]
    failed = client.get("/api/runs", params={"status": "failure"}).json()["runs"]
    assert [r["run_id"] for r in failed] == [bad.run_id]
    by_asset = client.get("/api/runs", params={"asset": "report"}).json()["runs"]
    assert [r["run_id"] for r in by_asset] == [good.run_id]
    assert client.get("/api/runs", params={"status": "bogus"}).status_code == 400
    page = client.get("/api/runs", params={"limit": 1}).json()
    older = client.get("/api/runs", params={"before": page["next_before"]}).json()
    assert [r["run_id"] for r in older["runs"]] == [good.run_id]

    run = client.get(f"/api/runs/{bad.run_id}").json()
    assert run["status"] == "FAILURE"
    steps = {s["key"]: s for s in run["steps"]}
    assert steps["fragile"]["status"] == "FAILURE"
    assert steps["fragile"]["error"]["type"] == "RuntimeError"
    assert "fragile was told to fail" in steps["fragile"]["error"]["traceback"]
    assert "Traceback" in steps["fragile"]["error"]["traceback"]
    assert steps["downstream_of_fragile"]["status"] == "SKIPPED"
    attempt = steps["fragile"]["attempt_history"][0]
    assert attempt["pid"] and attempt["start"] <= attempt["end"]
    assert client.get("/api/runs/nonexistent").status_code == 404


def test_logs_tail_after_a_cursor(client: TestClient, defs: Definitions) -> None:
    result = raystra.materialize(defs, "+report")
    logs = client.get(f"/api/runs/{result.run_id}/logs").json()
    assert logs["finished"] is True
    kinds = [r["kind"] for r in logs["records"]]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunSucceeded"
    messages = [r["message"] for r in logs["records"] if r["kind"] == "LogMessage"]
    assert "summing 3 orders" in messages
    middle = logs["records"][3]["id"]
    later = client.get(f"/api/runs/{result.run_id}/logs", params={"after": middle}).json()
    assert [r["id"] for r in later["records"]] == [
        r["id"] for r in logs["records"] if r["id"] > middle
    ]
    only_logs = client.get(f"/api/runs/{result.run_id}/logs", params={"kinds": "LogMessage"}).json()
    assert {r["kind"] for r in only_logs["records"]} == {"LogMessage"}


def test_failure_records_in_the_logs_say_what_failed(
    client: TestClient, defs: Definitions, project: Path
) -> None:
    (project.parent / "flags" / "fail").touch()
    result = raystra.materialize(defs, "+fragile", raise_on_error=False)
    records = client.get(f"/api/runs/{result.run_id}/logs").json()["records"]
    failed = next(r for r in records if r["kind"] == "StepFailed")
    assert failed["level"] == "ERROR"
    assert failed["message"] == "RuntimeError: fragile was told to fail"
    assert {r["level"] for r in records if r["kind"] == "RunFailed"} == {"ERROR"}
    assert {r["level"] for r in records if r["kind"] == "StepStarted"} == {"INFO"}


def test_launch_runs_in_its_own_process_and_records_like_the_cli(client: TestClient) -> None:
    response = client.post("/api/runs", json={"selection": "+report"})
    assert response.status_code == 201, response.text
    run_id = response.json()["run_id"]
    run = finished_run(client, run_id)
    assert run["status"] == "SUCCESS"
    assert run["selection"] == ["orders", "report"]
    assert run["driver_pid"] != __import__("os").getpid()  # not the server's process
    assert {s["key"]: s["status"] for s in run["steps"]} == {
        "orders": "SUCCESS",
        "report": "SUCCESS",
    }
    assets = {a["key"]: a for a in client.get("/api/assets").json()["assets"]}
    assert assets["report"]["state"] == "fresh"
    assert assets["report"]["last_materialization"]["run_id"] == run_id


def test_launch_a_partition_and_a_range(client: TestClient) -> None:
    one = client.post("/api/runs", json={"selection": "daily_sales", "partition": "2024-03-04"})
    assert finished_run(client, one.json()["run_id"])["partition"] == "2024-03-04"
    many = client.post(
        "/api/runs",
        json={"selection": "daily_sales", "partition_range": ["2024-03-01", "2024-03-02"]},
    )
    assert finished_run(client, many.json()["run_id"])["status"] == "SUCCESS"
    states = client.get("/api/assets/daily_sales/partitions").json()["states"]
    assert states == "ffmfmmm"


def test_partitions_of_a_run_in_progress_show_as_running(client: TestClient, project: Path) -> None:
    flags = project.parent / "flags"
    (flags / "hold-2024-03-02").touch()
    run_id = client.post(
        "/api/runs",
        json={"selection": "daily_sales", "partition_range": ["2024-03-01", "2024-03-03"]},
    ).json()["run_id"]
    wait_for(lambda: (flags / "held-2024-03-02").exists(), what="the held partition to start")
    # 03-01 done, 03-02 held, 03-03 waits behind it (in-process runs one step at a time);
    # 03-01's end reaches storage with the event writer's next flush.
    body = wait_for(
        lambda: (
            (b := client.get("/api/assets/daily_sales/partitions").json())["states"] == "frrmmmm"
            and b
        ),
        timeout=10,
        what="01 fresh, 02 and 03 running",
    )
    assert body["counts"]["running"] == 2
    (flags / "hold-2024-03-02").unlink()
    assert finished_run(client, run_id)["status"] == "SUCCESS"
    assert client.get("/api/assets/daily_sales/partitions").json()["states"] == "fffmmmm"


def test_bad_launch_requests_say_what_is_wrong(client: TestClient) -> None:
    bad_selection = client.post("/api/runs", json={"selection": "key:nothing_like_this*"})
    assert bad_selection.status_code == 400
    assert "matches no asset" in bad_selection.json()["detail"]
    no_partition = client.post("/api/runs", json={"selection": "daily_sales"})
    assert no_partition.status_code == 400
    assert "partition" in no_partition.json()["detail"]
    bad_key = client.post("/api/runs", json={"selection": "daily_sales", "partition": "2031-01-01"})
    assert bad_key.status_code == 400
    assert "2031-01-01" in bad_key.json()["detail"]
    missing_field = client.post("/api/runs", json={"partition": "x"})
    assert missing_field.status_code == 422
    assert client.get("/api/runs").json()["runs"] == []  # nothing was launched


def test_cancel_a_launched_run_ends_it_canceled_with_nothing_written(
    client: TestClient, project: Path
) -> None:
    run_id = client.post("/api/runs", json={"selection": "slow"}).json()["run_id"]
    wait_for(lambda: (project.parent / "flags" / "slow_started").exists(), what="slow to start")
    assets = {a["key"]: a["state"] for a in client.get("/api/assets").json()["assets"]}
    assert assets["slow"] == "running"
    assert assets["orders"] == "missing"
    # The step's start reaches storage with the writer's next flush (within a second or so).
    wait_for(
        lambda: client.get(f"/api/runs/{run_id}").json()["steps"][0]["status"] == "IN_PROGRESS",
        timeout=10,
        what="the step's start to be stored",
    )
    response = client.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 202, response.text
    run = finished_run(client, run_id, timeout=30)
    assert run["status"] == "CANCELED"
    storage = open_storage()
    try:
        assert storage.get_materializations(AssetKey("slow")) == []
    finally:
        storage.close()
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 409


def test_reexecute_from_failure_runs_only_what_failed(
    client: TestClient, defs: Definitions, project: Path
) -> None:
    flag = project.parent / "flags" / "fail"
    flag.touch()
    failed = raystra.materialize(defs, "orders or fragile+", raise_on_error=False)
    assert not failed.success
    flag.unlink()

    response = client.post(f"/api/runs/{failed.run_id}/reexecute", json={"from_failure": True})
    assert response.status_code == 201, response.text
    retry = finished_run(client, response.json()["run_id"])
    assert retry["status"] == "SUCCESS"
    assert retry["parent_run_id"] == failed.run_id
    assert sorted(retry["selection"]) == ["downstream_of_fragile", "fragile"]

    again = client.post(f"/api/runs/{retry['run_id']}/reexecute", json={"from_failure": True})
    assert again.status_code == 400  # nothing failed
    everything = client.post(f"/api/runs/{retry['run_id']}/reexecute", json={"from_failure": False})
    assert finished_run(client, everything.json()["run_id"])["status"] == "SUCCESS"


def test_a_traced_run_links_to_the_tracing_backend(
    make_client,
    defs: Definitions,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("RAYSTRA_TRACE_URL", "http://jaeger.local:16686/trace/{trace_id}")
    traced = raystra.materialize(defs, "orders")
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    untraced = raystra.materialize(defs, "orders")
    client = make_client()
    run = client.get(f"/api/runs/{traced.run_id}").json()
    assert len(run["trace_id"]) == 32
    assert run["trace_url"] == f"http://jaeger.local:16686/trace/{run['trace_id']}"
    plain = client.get(f"/api/runs/{untraced.run_id}").json()
    assert (plain["trace_id"], plain["trace_url"]) == (None, None)


def test_the_asset_filter_and_paging_reach_past_the_newest_5000_runs(
    client: TestClient, defs: Definitions
) -> None:
    old_report = raystra.materialize(defs, "orders+")
    old_daily = raystra.materialize(defs, "daily_sales", partition_key="2024-03-02")
    storage = open_storage()
    try:
        start = storage.get_run(old_daily.run_id).created_at + 1
        for i in range(5100):  # newer runs that never touch report or daily_sales
            storage.add_run(
                RunRecord(
                    run_id=f"newer-{i:05d}",
                    status=RunStatus.SUCCESS,
                    selection=("orders",),
                    created_at=start + i,
                )
            )
    finally:
        storage.close()

    by_asset = client.get("/api/runs", params={"asset": "report"}).json()
    assert [r["run_id"] for r in by_asset["runs"]] == [old_report.run_id]
    assert by_asset["next_before"] is None
    partitioned = client.get("/api/runs", params={"asset": "daily_sales"}).json()["runs"]
    assert [r["run_id"] for r in partitioned] == [old_daily.run_id]
    failed = client.get("/api/runs", params={"asset": "report", "status": "FAILURE"}).json()
    assert failed["runs"] == []
    with_orders = client.get("/api/runs", params={"asset": "orders", "limit": 2}).json()
    assert [r["run_id"] for r in with_orders["runs"]] == ["newer-05099", "newer-05098"]

    # Paging walks every run, down to the two old ones under the 5,100 newer.
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        page = client.get("/api/runs", params=params).json()
        seen += [r["run_id"] for r in page["runs"]]
        if page["next_before"] is None:
            break
        params["before"] = page["next_before"]
    assert len(seen) == len(set(seen)) == 5102
    assert seen[-2:] == [old_daily.run_id, old_report.run_id]

    unknown = client.get("/api/runs", params={"asset": "reprot"})
    assert unknown.status_code == 404
    assert "reprot" in unknown.json()["detail"]
