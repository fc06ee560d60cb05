"""The process that owns the embedded Spark Connect server (run as a module, never imported).

``python -m raystra_spark._supervisor <state dir> <port> <master> [key=value ...]`` starts
pyspark's ``sbin/start-connect-server.sh --wait`` in a new process group, records it in
``server.json`` once the port accepts connections, and stops that group (SIGTERM, then SIGKILL
after 30 s) when no registered user process is left, when it gets SIGTERM, or when the server
dies. See `raystra_spark._server` for how processes find and share it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from raystra_spark._server import is_alive, locked, port_open

_GRACE_S = 2.0  # a user may be between runs: wait this long with no users before stopping


def _server_command(port: int, master: str, directory: Path, conf: list[str]) -> list[str]:
    import pyspark

    script = Path(pyspark.__file__).parent / "sbin" / "start-connect-server.sh"
    settings = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.ui.enabled": "false",
        "spark.sql.warehouse.dir": str(directory / "warehouse"),
        "spark.driver.host": "127.0.0.1",
    }
    settings.update(item.split("=", 1) for item in conf)  # type: ignore[misc]
    command = ["bash", str(script), "--wait", "--master", master, "--name", "raystra-embedded"]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    return command


def _live_users(directory: Path) -> int:
    users = directory / "users"
    live = 0
    for entry in users.glob("*") if users.exists() else ():
        started = entry.read_text() if entry.exists() else ""
        if entry.name.isdigit() and is_alive(int(entry.name), started):
            live += 1
        else:
            entry.unlink(missing_ok=True)
    return live


def _stop(server: subprocess.Popen[bytes]) -> None:
    # The group is the server we started (start_new_session made server.pid its id).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    # The shell script exits before its java child: wait for the whole group to be gone.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    """Run the server until it is no longer used; the exit code says whether it came up."""
    directory, port, master, conf = Path(argv[0]), int(argv[1]), argv[2], argv[3:]
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    env = {
        **os.environ,
        "SPARK_LOG_DIR": str(directory / "logs"),
        "SPARK_PID_DIR": str(directory),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    with open(directory / "server.log", "wb") as log:
        server = subprocess.Popen(
            _server_command(port, master, directory, conf),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=directory,  # derby.log, metastore_db and spark-warehouse stay in here
            env=env,
        )
    state = directory / "server.json"
    try:
        while not port_open(port):
            if stopping or server.poll() is not None:
                return 1
            time.sleep(0.2)
        temp = directory / f"server.json.{os.getpid()}"
        temp.write_text(
            json.dumps({"port": port, "supervisor_pid": os.getpid(), "server_pid": server.pid})
        )
        temp.replace(state)
        idle_since: float | None = None
        while not stopping and server.poll() is None:
            time.sleep(1.0)
            with locked(directory):
                if _live_users(directory):
                    idle_since = None
                    continue
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= _GRACE_S:
                    state.unlink(missing_ok=True)  # under the lock: nobody picks it up now
                    break
        return 0
    finally:
        with locked(directory):
            info = json.loads(state.read_text()) if state.exists() else {}
            if info.get("supervisor_pid") == os.getpid():
                state.unlink()
        _stop(server)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
