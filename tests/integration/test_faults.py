"""Fault tests on Ray: a worker killed mid-write, and a driver killed mid-backfill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raystra import Definitions, asset, load_asset_value, materialize
from raystra.events import AssetMaterialized, RunStatus
from raystra.storage import open_storage

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("written_by", ["compute task", "persist task"])
def test_a_worker_killed_mid_write_is_retried_and_commits_exactly_once(
    on_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written_by: str
) -> None:
    from raystra_io import FsspecIOManager

    if written_by == "persist task":
        # Every output is written by a separate task, beside downstream work.
        monkeypatch.setenv("RAYSTRA_DEFER_WRITES_BYTES", "0")
    pid_file = tmp_path / "writer.pid"

    class SlowParquet(FsspecIOManager):
        extension = "parquet"

        def dump_to_path(self, context: Any, obj: pa.Table, path: str) -> None:
            with self.open(path, "wb") as file:
                file.write(b"PAR1 half a file")  # a partial write, at the temporary path
                file.flush()
                if not pid_file.exists():
                    pid_file.write_text(str(os.getpid()))
                    time.sleep(60)  # killed long before this ends
            with self.open(path, "wb") as file:
                pq.write_table(obj, file)

        def load_from_path(self, context: Any, path: str) -> pa.Table:
            with self.open(path) as file:
                return pq.read_table(file)

    @asset
    def orders() -> pa.Table:
        return pa.table({"id": list(range(1000))})

    storage_dir = tmp_path / "lake"
    defs = Definitions([orders], resources={"io_manager": SlowParquet(base_path=str(storage_dir))})

    def kill_the_writer() -> None:
        deadline = time.monotonic() + 120
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_the_writer)
    killer.start()
    result = materialize(defs)
    killer.join()
    assert result.success
    materialized = [e for e in result.events if isinstance(e, AssetMaterialized)]
    assert len(materialized) == 1
    assert load_asset_value(defs, "orders").num_rows == 1000
    final = storage_dir / "orders.parquet"
    assert pq.read_table(final).num_rows == 1000  # the final path holds the whole table
    # The killed writer's partial temporary file was removed by the attempt that committed.
    assert sorted(p.name for p in storage_dir.iterdir()) == ["orders.parquet"]


PIPELINE = """
import os, time
from pathlib import Path

import pyarrow as pa
from raystra import DailyPartitionsDefinition, Definitions, asset

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-13")
MARKERS = Path(os.environ["TEST_MARKERS"])


@asset(partitions_def=DAYS)
def readings(context) -> pa.Table:
    day = context.partition_key
    if day >= "2024-01-09" and not (MARKERS / "resumed").exists():
        (MARKERS / "hanging").touch()
        time.sleep(600)  # the driver is killed long before this ends
    return pa.table({"day": [day]})


@asset(partitions_def=DAYS)
def daily_summary(readings: pa.Table) -> pa.Table:
    return readings


defs = Definitions([readings, daily_summary])
"""


def test_a_driver_killed_mid_backfill_resumes_and_commits_every_partition_once(
    tmp_path: Path, raystra_home: Path
) -> None:
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {**os.environ, "TEST_MARKERS": str(markers), "RAYSTRA_EXECUTOR": "ray"}
    env.pop("RAY_ADDRESS", None)
    cli = [sys.executable, "-m", "raystra.cli"]
    driver = subprocess.Popen(
        [*cli, "backfill", "-f", "pipeline.py", "--select", "*", "--all"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own local Ray goes down with it
    )
    try:
        deadline = time.monotonic() + 180
        while not (markers / "hanging").exists():
            assert driver.poll() is None, "the backfill ended before hanging"
            assert time.monotonic() < deadline, "the backfill never reached the hanging days"
            time.sleep(0.1)
        time.sleep(2)  # days before the 9th commit meanwhile
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    storage = open_storage()
    (backfill,) = storage.list_backfills()
    (markers / "resumed").touch()
    resumed = subprocess.run(
        [*cli, "backfill", "-f", "pipeline.py", "resume", backfill.backfill_id],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    runs = storage.get_runs()
    assert sorted(r.status.value for r in runs) == ["FAILURE", "SUCCESS"]
    dead = next(r for r in runs if r.status is RunStatus.FAILURE)
    assert "driver" in storage.get_events(dead.run_id, kinds=["RunFailed"])[0].event.reason
    commits = Counter(
        (stored.event.asset_key.to_user_string(), stored.event.partition)
        for run in runs
        for stored in storage.get_events(run.run_id, kinds=["AssetMaterialized"])
        if isinstance(stored.event, AssetMaterialized)
    )
    days = [f"2024-01-{d:02d}" for d in range(1, 13)]
    expected = {(asset_key, day): 1 for asset_key in ("readings", "daily_summary") for day in days}
    assert commits == expected  # every partition committed exactly once across both runs
    first_run = Counter(
        stored.event.partition
        for stored in storage.get_events(dead.run_id, kinds=["AssetMaterialized"])
    )
    assert first_run, "the killed run had committed some days before it died"
    assert storage.get_backfill(backfill.backfill_id).status == "COMPLETED"
