"""The CLI on Ray as a user runs it: Ctrl-C, and attaching to a cluster started elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray_head import ray_head as start_ray_head

from raystra.events import RunStatus
from raystra.storage import open_storage

pytestmark = pytest.mark.integration

PIPELINE = """
import os, time
from pathlib import Path

import pyarrow as pa
from raystra import asset

MARKERS = Path(os.environ["TEST_MARKERS"])


@asset
def slow() -> pa.Table:
    (MARKERS / "slow_started").write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("TEST_SLOW_SECONDS", "0")))
    (MARKERS / "slow_finished").touch()
    return pa.table({"x": [1, 2, 3]})


@asset
def after(slow: pa.Table) -> int:
    return slow.num_rows
"""


def raystra_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "raystra.cli", *args]


@pytest.fixture
def project(tmp_path: Path, raystra_home: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {**os.environ, "RAYSTRA_EXECUTOR": "ray", "TEST_MARKERS": str(markers)}
    env.pop("RAY_ADDRESS", None)
    return tmp_path, env


def wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.1)


def test_ctrl_c_cancels_the_run_and_leaves_nothing_half_written(
    project: tuple[Path, dict[str, str]], raystra_home: Path
) -> None:
    folder, env = project
    env["TEST_SLOW_SECONDS"] = "60"
    cli = subprocess.Popen(
        raystra_cli("materialize", "-f", str(folder / "pipeline.py")),
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(folder / "markers" / "slow_started", timeout=120)
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 130, (out, err)
    assert "CANCELED" in out + err
    (run,) = open_storage().get_runs()
    assert run.status is RunStatus.CANCELED and run.ended_at is not None
    time.sleep(2)  # the step would have gone on to write if it had not been stopped
    assert not (folder / "markers" / "slow_finished").exists()
    storage_dir = raystra_home / "storage"
    leftovers = list(storage_dir.rglob("*")) if storage_dir.exists() else []
    assert [p for p in leftovers if p.is_file()] == []


@pytest.fixture
def ray_head(tmp_path: Path) -> Iterator[str]:
    """A real Ray head started with `ray start --block`, stopped by its PID afterwards."""
    with start_ray_head(tmp_path) as head:
        yield head.address


def test_cli_attaches_to_a_running_cluster_with_token_auth(
    project: tuple[Path, dict[str, str]], ray_head: str
) -> None:
    folder, env = project
    # Ray sends its token (~/.ray/auth_token, which the head uses) to an explicit address only
    # when told to: the documented way to attach to a token-protected cluster.
    env["RAY_AUTH_MODE"] = "token"
    done = subprocess.run(
        raystra_cli("materialize", "-f", str(folder / "pipeline.py"), "--ray-address", ray_head),
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = open_storage().get_runs()
    assert run.status is RunStatus.SUCCESS and run.executor == "ray"
    assert (folder / "markers" / "slow_finished").exists()  # ran in the attached cluster
    steps = {s.step_key: s.status for s in open_storage().get_step_stats(run.run_id)}
    assert steps == {"slow": "SUCCESS", "after": "SUCCESS"}


def test_attaching_without_the_token_says_how_to_fix_it(
    project: tuple[Path, dict[str, str]], ray_head: str
) -> None:
    folder, env = project
    env.pop("RAY_AUTH_MODE", None)
    done = subprocess.run(
        raystra_cli("check", "-f", str(folder / "pipeline.py")),
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0  # loading definitions never touches Ray
    failed = subprocess.run(
        raystra_cli("materialize", "-f", str(folder / "pipeline.py"), "--ray-address", ray_head),
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert failed.returncode == 2
    assert "RAY_AUTH_MODE=token" in failed.stderr
