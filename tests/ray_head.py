"""A real Ray head for tests, started with `ray start --head --block` and stopped by its PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RayHead:
    """The head's GCS address (``127.0.0.1:PORT``) and, with jobs, its Jobs API URL."""

    address: str
    jobs_url: str | None = None


@contextmanager
def ray_head(log_dir: Path, *, jobs: bool = False) -> Iterator[RayHead]:
    """Start a head on 127.0.0.1 (with its dashboard, the Jobs API, when ``jobs``)."""
    port = free_port()
    flags = ["--include-dashboard=false"]
    wait_port = port
    if jobs:
        dashboard = free_port()
        wait_port = dashboard
        flags = [
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            # The test session's own Ray already holds the default agent ports (52365...):
            # a second cluster on this machine needs its own, or its job agent never starts.
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
        ]
    ray_cli = Path(sys.executable).with_name("ray")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    if jobs:
        # Jobs get their settings from `raystra submit`, as on a real cluster: none of this
        # test process's raystra settings leak into the head.
        env = {k: v for k, v in env.items() if not k.startswith("RAYSTRA_")}
        # A cluster with raystra installed has its `raystra` command on PATH; CI runs this
        # venv's python without activating the venv, so its bin directory goes in front.
        venv_bin = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    log = log_dir / "ray_head.log"
    head = subprocess.Popen(
        [
            str(ray_cli) if ray_cli.exists() else "ray",
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            *flags,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115 - closed with the process
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", wait_port)) == 0:
                    break
            assert head.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(0.5)
        jobs_url = f"http://127.0.0.1:{wait_port}" if jobs else None
        yield RayHead(address=f"127.0.0.1:{port}", jobs_url=jobs_url)
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
