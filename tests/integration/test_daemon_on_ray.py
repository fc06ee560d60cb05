"""``raystra daemon`` as a real process launching a sensor's run on the Ray executor.

The daemon attaches to the test session's Ray (its GCS address, with Ray's token auth), the
run's steps execute as Ray tasks in worker processes of that cluster, the run succeeds, a
sensor that raises is recorded as a failed tick without stopping anything, and SIGTERM
stops the daemon cleanly (exit 0), canceling a run still in flight. The daemon is stopped
by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from raystra.definitions import AssetKey
from raystra.events import RunStatus
from raystra.storage import open_storage

pytestmark = pytest.mark.integration

PROJECT = """
import json
import os
from pathlib import Path

from raystra import DefaultSensorStatus, Definitions, RunRequest, asset, sensor

MARKERS = Path({markers!r})


def where() -> dict:
    import ray

    context = ray.get_runtime_context()
    return {{"pid": os.getpid(), "task": context.get_task_id(), "gcs": context.gcs_address}}


@asset
def orders() -> list[int]:
    (MARKERS / "orders.json").write_text(json.dumps(where()))
    return [1, 2, 3]


@asset
def order_total(orders: list[int]) -> int:
    (MARKERS / "order_total.json").write_text(json.dumps(where()))
    return sum(orders)


@sensor(target="+order_total", minimum_interval_seconds=0.5,
        default_status=DefaultSensorStatus.RUNNING)
def kick_off(context):
    return RunRequest(run_key="the-only-run")


@sensor(target="orders", minimum_interval_seconds=0.5, default_status=DefaultSensorStatus.RUNNING)
def flaky(context):
    raise RuntimeError("bucket unreachable")


defs = Definitions(assets=[orders, order_total], sensors=[kick_off, flaky])
"""


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_daemon_launches_a_sensor_run_on_ray_and_stops_on_sigterm(
    ray_session: None, tmp_path: Path, raystra_home: Path
) -> None:
    import ray

    gcs_address = ray.get_runtime_context().gcs_address
    markers = tmp_path / "markers"
    markers.mkdir()
    project = tmp_path / "ray_daemon_project.py"
    project.write_text(textwrap.dedent(PROJECT.format(markers=str(markers))))
    env = {
        **os.environ,
        "RAYSTRA_HOME": str(raystra_home),
        "RAYSTRA_EXECUTOR": "ray",
        "RAY_ADDRESS": gcs_address,
        # Ray sends its token to an explicit address only when asked to.
        "RAY_AUTH_MODE": "token",
    }
    log_path = tmp_path / "daemon.log"
    command = [sys.executable, "-m", "raystra.cli.main", "daemon", "-f", str(project)]
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [*command, "--interval", "0.5"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        storage = open_storage(f"sqlite:///{raystra_home}/raystra.db")
        try:

            def finished() -> bool:
                assert daemon.poll() is None, log_path.read_text()
                runs = storage.get_runs(limit=10)
                return bool(runs) and all(r.ended_at is not None for r in runs)

            _wait_for(finished, "the sensor's run to finish")
            _wait_for(lambda: len(storage.get_ticks("flaky", limit=50)) >= 3, "flaky's ticks")
            (run,) = storage.get_runs(limit=10)
            assert run.status is RunStatus.SUCCESS, log_path.read_text()
            assert run.executor == "ray"
            assert run.tags["raystra/run_key"] == "the-only-run"
            steps = {s.step_key: s.status for s in storage.get_step_stats(run.run_id)}
            assert steps == {"orders": "SUCCESS", "order_total": "SUCCESS"}
            # Each step ran as a Ray task in a worker of the session's cluster, not in the
            # daemon's process and not in a Ray of its own.
            for name in ("orders", "order_total"):
                ran = json.loads((markers / f"{name}.json").read_text())
                assert ran["task"] is not None and ran["pid"] != daemon.pid
                assert ran["gcs"] == gcs_address
            # The raising sensor failed every tick, with its error; the daemon went on.
            ticks = storage.get_ticks("flaky", limit=50)
            assert {t.status for t in ticks} == {"failed"}
            assert "bucket unreachable" in (ticks[0].error or "")
            assert len(storage.get_runs(limit=10)) == 1  # the run key launched it once
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(timeout=60)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                storage.close()
    output = log_path.read_text()
    assert code == 0, output
    assert f"run {run.run_id}: launched" in output
    assert "sensor 'flaky' failed: bucket unreachable" in output
    assert "raystra daemon: stopped" in output
    assert "alembic" not in output  # libraries' INFO chatter stays out of the daemon's log


SLOW_PROJECT = """
import time
from pathlib import Path

from raystra import DefaultSensorStatus, Definitions, RunRequest, asset, sensor

MARKERS = Path({markers!r})


@asset
def slow() -> int:
    (MARKERS / "slow_started").touch()
    time.sleep(120)
    (MARKERS / "slow_finished").touch()
    return 1


@sensor(target="slow", minimum_interval_seconds=0.5, default_status=DefaultSensorStatus.RUNNING)
def start_slow(context):
    return RunRequest(run_key="slow-once")


defs = Definitions(assets=[slow], sensors=[start_slow])
"""


def test_sigterm_cancels_the_run_in_flight_on_ray_and_exits_0(
    ray_session: None, tmp_path: Path, raystra_home: Path
) -> None:
    import ray

    markers = tmp_path / "markers"
    markers.mkdir()
    project = tmp_path / "ray_slow_project.py"
    project.write_text(textwrap.dedent(SLOW_PROJECT.format(markers=str(markers))))
    env = {
        **os.environ,
        "RAYSTRA_HOME": str(raystra_home),
        "RAYSTRA_EXECUTOR": "ray",
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "RAY_AUTH_MODE": "token",
    }
    log_path = tmp_path / "daemon.log"
    command = [sys.executable, "-m", "raystra.cli.main", "daemon", "-f", str(project)]
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [*command, "--interval", "0.5"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        try:
            _wait_for(lambda: (markers / "slow_started").exists(), "the slow step to start")
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(timeout=90)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
    output = log_path.read_text()
    assert code == 0, output
    assert "raystra daemon: stopped" in output
    storage = open_storage(f"sqlite:///{raystra_home}/raystra.db")
    try:
        (run,) = storage.get_runs(limit=10)
        assert run.status is RunStatus.CANCELED, output
        assert storage.get_materializations(AssetKey("slow")) == []
    finally:
        storage.close()
    assert not (markers / "slow_finished").exists()
