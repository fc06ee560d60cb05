"""`raystra ui` and `raystra dev` as real processes on a free port, and `raystra ui token`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import wait_for

from raystra.events import RunStarted
from raystra.storage import RunRecord, open_storage


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "raystra.cli", *args]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    """Start a server command; every process started is stopped by its PID afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> str:
        port = _free_port()
        log = (tmp_path / f"server-{port}.log").open("wb")
        process = subprocess.Popen(
            _cli(*args, "--port", str(port)), stdout=log, stderr=subprocess.STDOUT
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert process.poll() is None, (tmp_path / f"server-{port}.log").read_text()
            try:
                return httpx.get(f"{url}/api/me", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, what=f"{args[0]} to listen on {port}")
        return url

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_raystra_ui_serves_the_api_and_launches_runs(serve, project: Path) -> None:  # type: ignore[no-untyped-def]
    url = serve("ui", "-f", str(project))
    assets = httpx.get(f"{url}/api/assets").json()["assets"]
    assert {a["key"] for a in assets} >= {"orders", "report", "daily_sales"}
    schema = httpx.get(f"{url}/api/openapi.json").json()
    assert "/api/runs/{run_id}/logs" in schema["paths"]
    assert httpx.get(f"{url}/api/docs").status_code == 200
    assert httpx.get(f"{url}/").status_code == 200

    run_id = httpx.post(f"{url}/api/runs", json={"selection": "+report"}, timeout=60).json()[
        "run_id"
    ]
    status = wait_for(
        lambda: (
            (s := httpx.get(f"{url}/api/runs/{run_id}").json()["status"]) in ("SUCCESS", "FAILURE")
            and s
        ),
        what="the launched run",
    )
    assert status == "SUCCESS"


def test_auth_with_a_token_made_by_the_cli(serve, project: Path) -> None:  # type: ignore[no-untyped-def]
    made = subprocess.run(
        _cli("ui", "token", "create", "--user", "root", "--role", "admin"),
        capture_output=True,
        text=True,
        check=True,
    )
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("rst_")
    url = serve("ui", "-f", str(project), "--auth")
    assert httpx.get(f"{url}/api/assets").status_code == 401
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{url}/api/me", headers=headers).json()["role"] == "admin"
    listed = subprocess.run(_cli("ui", "token", "list"), capture_output=True, text=True, check=True)
    assert "root" in listed.stdout and token not in listed.stdout


def test_raystra_dev_runs_the_daemon_beside_the_server(serve, project: Path) -> None:  # type: ignore[no-untyped-def]
    # A run whose driver is gone: a process that already exited.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    storage = open_storage()
    storage.add_run(
        RunRecord(
            run_id="orphan",
            created_at=time.time(),
            driver_host=socket.gethostname(),
            driver_pid=gone.pid,
            heartbeat_at=time.time(),
        )
    )
    storage.store_events([RunStarted(run_id="orphan")])
    serve("dev", "-f", str(project), "--interval", "0.5")
    # Read storage directly (not through the API, whose reads also check for dead runs).
    try:
        wait_for(
            lambda: storage.get_run("orphan").status.value == "FAILURE",
            timeout=30,
            what="the daemon to fail the orphaned run",
        )
    finally:
        storage.close()
    assert os.environ["RAYSTRA_EXECUTOR"] == "in_process"
