"""`raystra submit` end to end: a real Ray head with its Jobs API, a partitioned backfill."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray_head import ray_head

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


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "raystra.cli", *args]


@pytest.fixture
def ray_head_with_jobs(tmp_path: Path) -> Iterator[str]:
    """`ray start --head --block` with its dashboard (the Jobs API); stopped by its PID."""
    with ray_head(tmp_path, jobs=True) as head:
        assert head.jobs_url is not None
        yield head.jobs_url


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
