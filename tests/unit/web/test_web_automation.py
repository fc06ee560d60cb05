"""``/api/automation``: schedules and sensors with status and ticks, start/stop by role, previews,
freshness and automation conditions, over real SQLite storage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from raystra import (
    AutomationCondition,
    DefaultSensorStatus,
    Definitions,
    FreshnessPolicy,
    RunRequest,
    asset,
    schedule,
    sensor,
)
from raystra.automation._ticks import evaluate_sensor
from raystra.storage import open_storage
from raystra.web import TokenStore, create_app, storage_url


@asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=30))
def orders() -> list[int]:
    return [1, 2]


@asset(automation_condition=AutomationCondition.eager())
def report(orders: list[int]) -> int:
    return sum(orders)


@schedule(cron_schedule="15 * * * *", target="orders")
def hourly(context):  # type: ignore[no-untyped-def]
    return RunRequest()


@sensor(target="orders", default_status=DefaultSensorStatus.RUNNING)
def files(context):  # type: ignore[no-untyped-def]
    if context.cursor == "broken":
        raise ValueError("the bucket listing failed")
    return RunRequest(run_key="file-1")


DEFS = Definitions(assets=[orders, report], schedules=[hourly], sensors=[files])


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(DEFS)) as test_client:
        yield test_client


def test_overview_lists_schedules_sensors_freshness_and_conditions(client: TestClient) -> None:
    body = client.get("/api/automation").json()
    (schedule_json,) = body["schedules"]
    assert (schedule_json["name"], schedule_json["status"]) == ("hourly", "stopped")
    assert schedule_json["cron_schedule"] == "15 * * * *"
    assert schedule_json["next_tick_at"] is None  # stopped: no next tick
    (sensor_json,) = body["sensors"]
    assert (sensor_json["status"], sensor_json["status_source"]) == ("running", "default")
    assert sensor_json["last_tick"] is None
    (fresh,) = body["freshness"]
    # Never materialized: overdue under a 30-minute lag.
    assert (fresh["asset_key"], fresh["overdue"], fresh["maximum_lag_minutes"]) == (
        "orders",
        True,
        30,
    )
    (condition,) = body["conditions"]
    assert condition["asset_key"] == "report" and "eager" in condition["condition"]


def test_start_stop_and_ticks(client: TestClient) -> None:
    started = client.post("/api/automation/hourly/start")
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "running"
    assert started.json()["next_tick_at"].endswith(":15:00+00:00")
    assert client.get("/api/automation").json()["schedules"][0]["status"] == "running"
    assert client.post("/api/automation/files/stop").json()["status"] == "stopped"

    with closing(open_storage()) as store:
        store.save_instigator_state("files", kind="sensor", status="running")
        evaluate_sensor(DEFS, store, DEFS.sensors[0], now=datetime.now(UTC))  # type: ignore[arg-type]
    ticks = client.get("/api/automation/files/ticks").json()["ticks"]
    assert [(t["status"], t["run_keys"]) for t in ticks] == [("success", ["file-1"])]
    missing = client.get("/api/automation/nope/ticks")
    assert missing.status_code == 404 and "No schedule or sensor named 'nope'" in missing.text


def test_previews_record_nothing_and_report_a_raising_function(client: TestClient) -> None:
    preview = client.post("/api/automation/files/preview").json()
    assert [(r["run_key"], r["selection"]) for r in preview["runs"]] == [("file-1", ["orders"])]
    assert client.get("/api/automation/files/ticks").json()["ticks"] == []
    schedule_preview = client.post("/api/automation/hourly/preview").json()
    assert len(schedule_preview["next_ticks"]) == 5
    assert schedule_preview["runs"][0]["selection"] == ["orders"]
    with closing(open_storage()) as store:
        store.save_instigator_state("files", kind="sensor", cursor="broken")
    failed = client.post("/api/automation/files/preview")
    assert failed.status_code == 422
    assert "ValueError: the bucket listing failed" in failed.json()["detail"]


def test_only_editors_start_stop_or_preview() -> None:
    tokens = TokenStore(storage_url())
    try:
        made = {
            role: tokens.create_token(f"{role}-u", role=role) for role in ("launcher", "editor")
        }
    finally:
        tokens.close()
    with TestClient(create_app(DEFS, auth=True)) as secured:
        launcher = {"Authorization": f"Bearer {made['launcher']}"}
        editor = {"Authorization": f"Bearer {made['editor']}"}
        assert secured.get("/api/automation").status_code == 401
        assert secured.get("/api/automation", headers=launcher).status_code == 200
        for action in ("start", "stop", "preview"):
            refused = secured.post(f"/api/automation/hourly/{action}", headers=launcher)
            assert refused.status_code == 403, action
            assert "needs 'editor'" in refused.json()["detail"]
        allowed = secured.post("/api/automation/hourly/start", headers=editor)
        assert allowed.status_code == 200 and allowed.json()["status"] == "running"
