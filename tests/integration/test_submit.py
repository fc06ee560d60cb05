"""`raystra submit` end to end: a real Ray head with its Jobs API, a partitioned backfill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from raystra.definitions import AssetKey
from raystra.events import RunStatus
from raystra.storage import open_storage

pytestmark = pytest.mark.integration

PIPELINE = """
import os
import time

import pyarrow as pa
from raystra import DailyPartitionsDefinition, Definitions, asset

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")


@asset(partitions_def=DAYS)
def orders(context) -> pa.Table:
    if os.environ.get("TEST_SLOW_SECONDS"):
        time.sleep(float(os.environ["TEST_SLOW_SECONDS"]))
    return pa.table({"day": [context.partition_key], "pid": [os.getpid()]})


@asset(partitions_def=DAYS)
def order_counts(orders: pa.Table) -> pa.Table:
    return pa.table({"day": orders["day"], "rows": [orders.num_rows]})


defs = Definitions([orders, order_counts])
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "raystra.cli", *args]


@pytest.fixture
def ray_head_with_jobs(tmp_path: Path) -> Iterator[str]:
    """`ray start --head --block` with its dashboard (the Jobs API); stopped by its PID."""
    port, dashboard = _free_port(), _free_port()
    ray_cli = Path(sys.executable).with_name("ray")
    # A cluster of its own: nothing of this test process's raystra settings leaks into it.
    env = {
        k: v for k, v in os.environ.items() if k != "RAY_ADDRESS" and not k.startswith("RAYSTRA_")
    }
    log = tmp_path / "ray_head.log"
    head = subprocess.Popen(
        [
            str(ray_cli) if ray_cli.exists() else "ray",
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            # The test session's own Ray already holds the default agent ports (52365...):
            # a second cluster on this machine needs its own, or its job agent never starts.
            f"--dashboard-agent-listen-port={_free_port()}",
            f"--dashboard-agent-grpc-port={_free_port()}",
            f"--runtime-env-agent-port={_free_port()}",
            f"--metrics-export-port={_free_port()}",
            f"--ray-client-server-port={_free_port()}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115 - closed with the process
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 180
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", dashboard)) == 0:
                    break
            assert head.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the Ray head's dashboard did not start"
            time.sleep(0.5)
        yield address
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()


@pytest.fixture
def project(tmp_path: Path, raystra_home: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # the head uses Ray's token authentication
    env.pop("RAY_ADDRESS", None)
    # The cluster writes to the same run storage the test reads (forwarded by raystra submit).
    env["RAYSTRA_STORAGE_URL"] = f"sqlite:///{raystra_home / 'raystra.db'}"
    return folder, env


def test_submit_a_partitioned_backfill_and_read_its_run_from_storage(
    ray_head_with_jobs: str, project: tuple[Path, dict[str, str]], raystra_home: Path
) -> None:
    folder, env = project
    submitted = subprocess.run(
        _cli(
            "submit",
            "--address",
            ray_head_with_jobs,
            "-f",
            "pipeline.py",
            "--env",
            f"RAYSTRA_HOME={raystra_home}",
            "--follow",
            "--",
            "backfill",
            "--select",
            "orders order_counts",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-05",
        ),
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = submitted.stdout.split("Submitted job ", 1)[1].split()[0]
    assert "Backfill" in submitted.stdout and "COMPLETED" in submitted.stdout
    assert f"Job {job_id} SUCCEEDED" in submitted.stdout

    storage = open_storage()
    (run,) = storage.get_runs()
    assert run.status is RunStatus.SUCCESS and run.executor == "ray"
    assert run.tags.get("raystra/backfill")
    materialized = {
        (m.asset_key.to_user_string(), m.partition)
        for key in ("orders", "order_counts")
        for m in storage.get_materializations(AssetKey.from_user_string(key))
    }
    days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    assert materialized == {(a, d) for a in ("orders", "order_counts") for d in days}
    # The job's driver ran on the cluster, not in the submitting process.
    assert (raystra_home / "storage" / "orders" / "partition=2024-01-03" / "data.parquet").exists()

    status = subprocess.run(
        _cli("submit", "status", job_id, "--address", ray_head_with_jobs),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0 and "SUCCEEDED" in status.stdout
    logs = subprocess.run(
        _cli("submit", "logs", job_id, "--address", ray_head_with_jobs),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "COMPLETED" in logs.stdout


def test_stopping_a_submitted_job_cancels_its_run(
    ray_head_with_jobs: str, project: tuple[Path, dict[str, str]], raystra_home: Path
) -> None:
    folder, env = project
    env["TEST_SLOW_SECONDS"] = "120"
    submitted = subprocess.run(
        _cli(
            "submit",
            "--address",
            ray_head_with_jobs,
            "-f",
            "pipeline.py",
            "--env",
            f"RAYSTRA_HOME={raystra_home}",
            "--env",
            "TEST_SLOW_SECONDS=120",
            "--",
            "materialize",
            "--select",
            "orders",
            "--partition",
            "2024-01-01",
        ),
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = submitted.stdout.split("Submitted job ", 1)[1].split()[0]
    storage = open_storage()
    deadline = time.monotonic() + 180
    while not storage.get_runs():
        assert time.monotonic() < deadline, "the submitted run never started"
        time.sleep(0.5)
    stopped = subprocess.run(
        _cli("submit", "stop", job_id, "--address", ray_head_with_jobs),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    deadline = time.monotonic() + 120
    while not (run := storage.get_runs()[0]).status.is_finished:
        if time.monotonic() > deadline:
            logs = subprocess.run(
                _cli("submit", "logs", job_id, "--address", ray_head_with_jobs),
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            raise AssertionError(f"the stopped run stayed {run.status}:\n{logs.stdout}")
        time.sleep(0.5)
    assert run.status is RunStatus.CANCELED


def test_an_unknown_command_is_refused_before_anything_is_uploaded(
    project: tuple[Path, dict[str, str]],
) -> None:
    folder, env = project
    refused = subprocess.run(
        _cli("submit", "--address", "http://127.0.0.1:9", "--", "assets", "list"),
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "No such command" in refused.stderr or "runs one of" in refused.stderr
