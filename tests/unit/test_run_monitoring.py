"""Runs whose driver died are failed, never left in progress; their backfills resume cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from raystra.api import get_run, list_runs
from raystra.api._monitor import fail_dead_runs
from raystra.events import AssetMaterialized, RunStatus
from raystra.storage import RunRecord, open_storage

PIPELINE = """
import os, time
from pathlib import Path

import pyarrow as pa
from raystra import DailyPartitionsDefinition, Definitions, asset

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-07")
MARKERS = Path(os.environ["TEST_MARKERS"])


@asset(partitions_def=DAYS)
def events(context) -> pa.Table:
    day = context.partition_key
    if day == os.environ.get("TEST_HANG_ON"):
        (MARKERS / "hanging").write_text(str(os.getpid()))
        time.sleep(600)  # the driver is killed long before this ends
    return pa.table({"day": [day]})


defs = Definitions([events])
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "raystra.cli", *args]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    (tmp_path / "markers").mkdir()
    env = {**os.environ, "TEST_MARKERS": str(tmp_path / "markers")}
    return tmp_path, env


def _kill_driver_mid_backfill(folder: Path, env: dict[str, str], hang_on: str) -> None:
    driver = subprocess.Popen(
        _cli("backfill", "-f", "pipeline.py", "--select", "events", "--all"),
        env={**env, "TEST_HANG_ON": hang_on},
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (folder / "markers" / "hanging").exists():
        assert driver.poll() is None, "the backfill ended before the hanging partition"
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.5)  # the step has been running a while (its start is stored by now)
    driver.send_signal(signal.SIGKILL)  # no handler runs, nothing is recorded on the way out
    driver.wait()


def test_a_sigkilled_driver_is_failed_by_the_next_command_and_its_backfill_resumes(
    project: tuple[Path, dict[str, str]],
) -> None:
    folder, env = project
    _kill_driver_mid_backfill(folder, env, hang_on="2024-01-04")
    storage = open_storage()
    (dead,) = storage.get_runs()
    assert not dead.status.is_finished  # as the killed driver left it (events batched)

    listed = subprocess.run(
        _cli("runs", "list"), env=env, cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert "FAILURE" in listed.stdout
    run = get_run(dead.run_id)
    assert run.status is RunStatus.FAILURE and run.ended_at is not None
    steps = {s.step_key: s for s in storage.get_step_stats(run.run_id)}
    hung = steps["events[2024-01-04]"]
    assert hung.status == "FAILURE" and hung.error is not None
    assert hung.error.type_name == "DriverDied"
    assert f"pid {dead.driver_pid}" in hung.error.message
    assert all(s.status != "IN_PROGRESS" for s in steps.values())
    (backfill,) = storage.list_backfills()
    assert backfill.status == "FAILED"

    resumed = subprocess.run(
        _cli("backfill", "-f", "pipeline.py", "resume", backfill.backfill_id),
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # Every day committed exactly once over both runs: what the dead run finished was kept.
    counts = Counter(
        event.partition
        for listed_run in storage.get_runs()
        for stored in storage.get_events(listed_run.run_id, kinds=["AssetMaterialized"])
        if isinstance(event := stored.event, AssetMaterialized)
    )
    days = [f"2024-01-0{d}" for d in range(1, 7)]
    assert counts == dict.fromkeys(days, 1)
    assert storage.get_backfill(backfill.backfill_id).status == "COMPLETED"


def test_a_run_without_heartbeats_is_failed_by_the_daemon(tmp_path: Path) -> None:
    storage = open_storage()
    now = time.time()
    storage.add_run(
        RunRecord(
            run_id="remote-run",
            created_at=now - 300,
            driver_host="another-machine",
            driver_pid=4242,
            heartbeat_at=now - 120,
        )
    )
    storage.add_run(
        RunRecord(
            run_id="healthy-run",
            created_at=now - 300,
            driver_host="another-machine",
            driver_pid=4343,
            heartbeat_at=now,
        )
    )
    daemon = subprocess.Popen(
        _cli("daemon", "--interval", "0.5"),
        env={**os.environ, "RAYSTRA_HEARTBEAT_TIMEOUT_S": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while storage.get_run("remote-run").status is not RunStatus.FAILURE:
            assert daemon.poll() is None, daemon.communicate()
            assert time.monotonic() < deadline, "the daemon never failed the silent run"
            time.sleep(0.2)
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert "remote-run" in out and "stopped" in out
    failed = storage.get_events("remote-run", kinds=["RunFailed"])
    assert "sent no heartbeat for 1" in failed[0].event.reason  # ~120 s
    assert storage.get_run("healthy-run").status is RunStatus.QUEUED


def test_a_running_driver_keeps_its_run_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    import raystra

    monkeypatch.setenv("RAYSTRA_HEARTBEAT_S", "0.1")
    seen: list[float] = []

    @raystra.asset
    def slow() -> int:
        time.sleep(0.6)
        seen.append(open_storage().get_runs()[0].heartbeat_at or 0.0)
        return 1

    started = time.time()
    result = raystra.materialize([slow])
    assert result.success
    assert seen and seen[0] > started + 0.2  # refreshed while the step ran
    # Checking from the same process never fails its own run, even with a tiny timeout.
    assert fail_dead_runs(open_storage(), timeout_s=0.0) == []
    assert [r.status for r in list_runs()] == [RunStatus.SUCCESS]
