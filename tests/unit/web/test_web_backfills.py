"""Backfills through the API: launch with progress, cancel, resume what failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import wait_for
from fastapi.testclient import TestClient


def _finished(client: TestClient, backfill_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/api/backfills/{backfill_id}").json()
        return body if body["status"] in ("COMPLETED", "FAILED", "CANCELED") else None

    result: dict[str, Any] = wait_for(check, what=f"backfill {backfill_id}")
    return result


def test_backfill_a_range_then_resume_what_failed(client: TestClient, project: Path) -> None:
    flag = project.parent / "flags" / "fail-2024-03-03"
    flag.touch()
    response = client.post(
        "/api/backfills",
        json={"selection": "daily_sales", "from": "2024-03-01", "to": "2024-03-04"},
    )
    assert response.status_code == 201, response.text
    backfill_id = response.json()["backfill_id"]
    assert response.json()["targets"] == 4
    done = _finished(client, backfill_id)
    assert done["status"] == "FAILED"
    assert done["counts"] == {"materialized": 3, "failed": 1}
    assert done["total"] == 4
    runs = client.get("/api/runs", params={"backfill": backfill_id}).json()["runs"]
    assert [r["backfill_id"] for r in runs] == [backfill_id]
    assert [b["backfill_id"] for b in client.get("/api/backfills").json()["backfills"]] == [
        backfill_id
    ]

    flag.unlink()
    resumed = client.post(f"/api/backfills/{backfill_id}/resume")
    assert resumed.status_code == 202, resumed.text
    final = _finished(client, backfill_id)
    assert final["status"] == "COMPLETED"
    assert final["counts"] == {"materialized": 4}
    assert len(final["run_ids"]) == 2
    assert client.get("/api/assets/daily_sales/partitions").json()["states"] == "ffffmmm"
    nothing_left = client.post(f"/api/backfills/{backfill_id}/resume")
    assert nothing_left.status_code == 400


def test_backfill_a_key_list_and_bad_requests(client: TestClient) -> None:
    response = client.post(
        "/api/backfills", json={"selection": "daily_sales", "partitions": ["2024-03-07"]}
    )
    assert _finished(client, response.json()["backfill_id"])["status"] == "COMPLETED"
    both = client.post(
        "/api/backfills",
        json={"selection": "daily_sales", "from": "2024-03-01", "to": "2024-03-02", "all": True},
    )
    assert both.status_code == 422
    assert "exactly one" in both.text
    unknown = client.post(
        "/api/backfills",
        json={"selection": "daily_sales", "from": "2024-03-01", "to": "2025-01-01"},
    )
    assert unknown.status_code == 400
    assert "2025-01-01" in unknown.json()["detail"]
    assert client.get("/api/backfills/nope").status_code == 404


def test_cancel_a_running_backfill(client: TestClient, project: Path) -> None:
    response = client.post("/api/backfills", json={"selection": "slow or daily_sales", "all": True})
    assert response.status_code == 201, response.text
    backfill_id = response.json()["backfill_id"]
    wait_for(lambda: (project.parent / "flags" / "slow_started").exists(), what="slow to start")
    canceling = client.post(f"/api/backfills/{backfill_id}/cancel")
    assert canceling.status_code == 202
    assert canceling.json()["status"] == "CANCELING"
    final = _finished(client, backfill_id)
    assert final["status"] == "CANCELED"
    run = client.get(f"/api/runs/{final['run_ids'][0]}").json()
    assert run["status"] == "CANCELED"


def test_progress_counts_what_the_running_backfill_finished_and_survives_a_cancel(
    client: TestClient, project: Path
) -> None:
    flags = project.parent / "flags"
    hold = flags / "hold-2024-03-04"
    hold.touch()
    try:
        response = client.post(
            "/api/backfills",
            json={"selection": "daily_sales", "from": "2024-03-01", "to": "2024-03-06"},
        )
        backfill_id = response.json()["backfill_id"]
        wait_for(lambda: (flags / "held-2024-03-04").exists(), what="the fourth day to start")
        # Events reach storage in batches: the three finished days show within moments.
        running = wait_for(
            lambda: (b := client.get(f"/api/backfills/{backfill_id}").json())["done"] == 3 and b,
            what="three days done",
        )
        assert running["status"] == "RUNNING"
        assert running["counts"] == {"materialized": 3, "requested": 3}
        assert (running["done"], running["total"]) == (3, 6)
        listed = client.get("/api/backfills").json()["backfills"][0]
        assert listed["counts"] == running["counts"]

        # SIGTERM interrupts the held step; the three committed days still count.
        assert client.post(f"/api/backfills/{backfill_id}/cancel").status_code == 202
        canceled = _finished(client, backfill_id)
    finally:
        hold.unlink()
    assert canceled["status"] == "CANCELED"
    assert canceled["counts"]["materialized"] == 3
    assert canceled["done"] == 3

    assert client.post(f"/api/backfills/{backfill_id}/resume").status_code == 202
    final = _finished(client, backfill_id)
    assert (final["status"], final["counts"]) == ("COMPLETED", {"materialized": 6})
    assert client.get("/api/assets/daily_sales/partitions").json()["states"] == "ffffffm"
