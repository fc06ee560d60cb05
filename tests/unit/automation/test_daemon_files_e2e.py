"""End to end: ``raystra daemon`` as a real process, a file sensor, dynamic partitions.

Files dropped into the watched directory must each launch exactly one run materializing the
partition named after the file; SIGTERM stops the daemon cleanly (exit 0, "stopped").
Runs use the in-process executor here (the Ray variant is not covered by this test).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from raystra import AssetKey
from raystra.storage import open_storage

PROJECT = """
from pathlib import Path

from raystra import (
    AssetExecutionContext, DefaultSensorStatus, Definitions, DynamicPartitionsDefinition,
    asset, new_files_sensor,
)

LANDING = {landing!r}
files = DynamicPartitionsDefinition(name="landing_files")


@asset(partitions_def=files)
def lines(context: AssetExecutionContext) -> int:
    return len((Path(LANDING) / f"{{context.partition_key}}.csv").read_text().splitlines())


watch = new_files_sensor(
    LANDING, target="lines", name="landing", pattern="*.csv", partitions_def=files,
    minimum_interval_seconds=0.2, default_status=DefaultSensorStatus.RUNNING,
)
defs = Definitions(assets=[lines], sensors=[watch])
"""


def _wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_each_dropped_file_launches_one_run_of_its_partition(
    tmp_path: Path, raystra_home: Path
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    project = tmp_path / "defs.py"
    project.write_text(textwrap.dedent(PROJECT.format(landing=str(landing))))
    env = {**os.environ, "RAYSTRA_HOME": str(raystra_home), "RAYSTRA_EXECUTOR": "in_process"}
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "raystra.cli.main",
            "daemon",
            "-f",
            str(project),
            "--interval",
            "0.2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    storage = open_storage(f"sqlite:///{raystra_home}/raystra.db")
    try:
        for name, rows in [("a", 1), ("b", 2), ("c", 3)]:
            staging = tmp_path / f"{name}.tmp"
            staging.write_text("x\n" * rows)
            staging.rename(landing / f"{name}.csv")  # atomic: never listed half-written
            time.sleep(0.3)

        def three_done() -> bool:
            runs = storage.get_runs(limit=50)
            return len(runs) >= 3 and all(r.status.value == "SUCCESS" for r in runs)

        _wait_for(three_done)
        time.sleep(1.5)  # more iterations must not launch anything again
        runs = storage.get_runs(limit=50)
        assert len(runs) == 3
        assert sorted(r.tags["raystra/file"].rsplit("/", 1)[-1] for r in runs) == [
            "a.csv",
            "b.csv",
            "c.csv",
        ]
        assert sorted(storage.get_dynamic_partitions("landing_files")) == ["a", "b", "c"]
        states = storage.partition_states(AssetKey("lines"))
        assert {p: s.status for p, s in states.items()} == {
            "a": "materialized",
            "b": "materialized",
            "c": "materialized",
        }
        values = {m.partition: m.run_id for m in storage.get_materializations(AssetKey("lines"))}
        assert len(values) == 3 and set(values.values()) == {r.run_id for r in runs}
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
        storage.close()
        log.close()
    output = (tmp_path / "daemon.log").read_text()
    assert code == 0, output
    assert "raystra daemon: stopped" in output
