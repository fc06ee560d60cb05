"""Runs launched from the web server on the Ray executor: success, and cancel mid-step.

Each launched run is a `raystra` process that starts its own local Ray (as `raystra
materialize` does), so this test does not use the session's Ray.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from raystra.cli._loading import DefinitionsTarget, load_definitions
from raystra.definitions import AssetKey
from raystra.storage import open_storage
from raystra.web import create_app

pytestmark = pytest.mark.integration

PROJECT = """
import time
from pathlib import Path

from raystra import Definitions, asset

FLAGS = Path(__file__).parent / "flags"


@asset
def orders() -> list[int]:
    return [1, 2, 3]


@asset
def report(orders: list[int]) -> int:
    return sum(orders)


@asset
def slow() -> int:
    (FLAGS / "slow_started").touch()
    time.sleep(120)
    return 1


defs = Definitions(assets=[orders, report, slow])
"""


def _finished(client: TestClient, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def test_launch_and_cancel_on_ray(tmp_path: Path) -> None:
    (tmp_path / "flags").mkdir()
    path = tmp_path / "web_ray_project.py"
    path.write_text(PROJECT)
    defs = load_definitions(DefinitionsTarget(file=path))
    app = create_app(defs, launch_target=["-f", str(path)], launch_env={"RAYSTRA_EXECUTOR": "ray"})
    with TestClient(app) as client:
        launcher = app.state.raystra.launcher
        try:
            run_id = client.post("/api/runs", json={"selection": "+report"}).json()["run_id"]
            run = _finished(client, run_id)
            assert (run["status"], run["executor"]) == ("SUCCESS", "ray")
            # Steps ran in Ray workers, not in the launched driver process.
            assert {s["pid"] for s in run["steps"]} - {run["driver_pid"]}

            slow_id = client.post("/api/runs", json={"selection": "slow"}).json()["run_id"]
            deadline = time.monotonic() + 120
            while not (tmp_path / "flags" / "slow_started").exists():
                assert time.monotonic() < deadline, "slow never started"
                time.sleep(0.2)
            assert client.post(f"/api/runs/{slow_id}/cancel").status_code == 202
            canceled = _finished(client, slow_id, timeout=60)
            assert canceled["status"] == "CANCELED"
        finally:
            launcher.shutdown(timeout_s=60)
    storage = open_storage()
    try:
        assert storage.get_materializations(AssetKey("slow")) == []
    finally:
        storage.close()
