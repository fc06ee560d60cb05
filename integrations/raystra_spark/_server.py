"""The embedded Spark Connect server: started once, shared by every process that asks, stopped
when the last of them is gone.

Steps run in the driver (in-process executor) and in Ray workers, which are separate processes
on the same machine. They find one server through a state directory (``$RAYSTRA_SPARK_DIR``,
default ``<tmp>/raystra-spark-<uid>``):

- ``lock``: taken (``flock``) while a process looks for, starts, or gives up the server, so two
  steps starting at once do not start two servers.
- ``server.json``: port and PIDs of the running server, written once it accepts connections.
- ``users/<pid>``: one file per process using the server.

The first process that needs a server checks Java, then starts a small supervisor process
(`raystra_spark._supervisor`, its own session so Ctrl-C on a run does not reach it), which runs
pyspark's ``sbin/start-connect-server.sh --wait`` in a process group it owns. Every second the
supervisor drops users whose process has exited; when none is left (a CLI run finished, Ray
shut its workers down, the test session ended) it stops the server group it started, by PID,
and exits. `stop_embedded_spark` stops it at once.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from raystra.errors import RaystraError

__all__ = [
    "STATE_DIR_ENV",
    "JavaNotFoundError",
    "ServerInfo",
    "SparkServerError",
    "embedded_spark_remote",
    "find_java",
    "is_alive",
    "locked",
    "read_state",
    "release_embedded_spark",
    "state_dir",
    "stop_embedded_spark",
]

STATE_DIR_ENV = "RAYSTRA_SPARK_DIR"
_MIN_JAVA = 17  # Spark 4 runs on Java 17 and 21


class JavaNotFoundError(RaystraError):
    """The embedded Spark Connect server cannot start: no (recent enough) Java here."""


class SparkServerError(RaystraError):
    """The embedded Spark Connect server did not start."""


@dataclass(frozen=True)
class ServerInfo:
    """A running embedded server, as recorded in ``server.json``."""

    port: int
    supervisor_pid: int
    server_pid: int

    @property
    def remote(self) -> str:
        """The Spark Connect address, ``sc://127.0.0.1:<port>``."""
        return f"sc://127.0.0.1:{self.port}"


def state_dir() -> Path:
    """Where processes sharing an embedded server find it (``$RAYSTRA_SPARK_DIR``).

    Example:
        >>> state_dir().name.startswith("raystra-spark") or "RAYSTRA_SPARK_DIR" in os.environ
        True
    """
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"raystra-spark-{os.getuid()}"


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the state directory's lock (blocking) for the duration of the block."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stat(pid: int) -> list[str]:
    """Fields of ``/proc/<pid>/stat`` after the command name (Linux; empty elsewhere)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks, to tell a reused PID apart."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""


def is_alive(pid: int, started: str = "") -> bool:
    """True when process ``pid`` exists (and, if ``started`` is known, is the same process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat(pid)
    if fields and fields[0] == "Z":  # exited, not yet reaped by its parent
        return False
    return not started or not fields or fields[19] == started


def read_state(directory: Path) -> ServerInfo | None:
    """The server recorded in ``directory``, if any."""
    try:
        data = json.loads((directory / "server.json").read_text())
    except (OSError, ValueError):
        return None
    return ServerInfo(int(data["port"]), int(data["supervisor_pid"]), int(data["server_pid"]))


def find_java() -> str:
    """The ``java`` executable the server would use (``$JAVA_HOME/bin/java``, else PATH).

    Raises:
        JavaNotFoundError: No Java, or one older than 17, with the fix in the message.
    """
    java_home = os.environ.get("JAVA_HOME")
    candidate = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    fix = (
        "Install a Java 17 or 21 runtime (e.g. `apt-get install openjdk-17-jre-headless`, or "
        "`brew install openjdk@17`) and put `java` on PATH or set JAVA_HOME to it; or point "
        'SparkResource(remote="sc://host:15002") at a running Spark Connect server.'
    )
    if not candidate or not os.access(candidate, os.X_OK):
        where = f"JAVA_HOME={java_home!r} has no bin/java" if java_home else "no `java` on PATH"
        raise JavaNotFoundError(
            f"The embedded Spark Connect server needs Java, but {where}. To fix: {fix}"
        )
    shown = subprocess.run(
        [candidate, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', shown.stderr + shown.stdout)
    if match:
        major = int(match.group(1))
        major = int(match.group(2) or 0) if major == 1 else major  # "1.8" is Java 8
        if major < _MIN_JAVA:
            raise JavaNotFoundError(
                f"The embedded Spark Connect server needs Java {_MIN_JAVA}+, but {candidate} "
                f"is Java {major}. To fix: {fix}"
            )
    return candidate


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _register(directory: Path) -> None:
    users = directory / "users"
    users.mkdir(exist_ok=True)
    pid = os.getpid()
    mine = users / str(pid)
    if not mine.exists():
        mine.write_text(_start_time(pid))
        atexit.register(release_embedded_spark)


def embedded_spark_remote(
    *, cores: int | None = None, conf: Mapping[str, str] | None = None, timeout: float = 300.0
) -> str:
    """The address of the embedded server, started if none is running; this process uses it.

    Args:
        cores: Local cores for a server started now (``local[cores]``; default: all).
        conf: Spark configuration for a server started now (a running one keeps its own).
        timeout: Seconds to wait for a new server to accept connections.

    Raises:
        JavaNotFoundError: No usable Java to start a server.
        SparkServerError: The server exited or did not come up in time (log tail included).

    Example:
        >>> embedded_spark_remote()  # doctest: +SKIP
        'sc://127.0.0.1:40321'
    """
    directory = state_dir()
    with locked(directory):
        info = read_state(directory)
        if info is None or not is_alive(info.supervisor_pid) or not port_open(info.port):
            find_java()
            _register(directory)  # before the start: the supervisor stops a server nobody uses
            info = _start(directory, cores=cores, conf=conf or {}, timeout=timeout)
        else:
            _register(directory)
    return info.remote


def _start(
    directory: Path, *, cores: int | None, conf: Mapping[str, str], timeout: float
) -> ServerInfo:
    (directory / "server.json").unlink(missing_ok=True)
    port = _free_port()
    command = [sys.executable, "-m", "raystra_spark._supervisor", str(directory), str(port)]
    command.append(f"local[{cores or '*'}]")
    command += [f"{key}={value}" for key, value in conf.items()]
    with open(directory / "supervisor.log", "ab") as log:
        supervisor = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives a Ctrl-C on the run; stops itself
            cwd=directory,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_state(directory)
        if info is not None and info.supervisor_pid == supervisor.pid:
            return info
        if supervisor.poll() is not None:
            raise SparkServerError(
                f"The embedded Spark Connect server exited while starting (code "
                f"{supervisor.returncode}). Last lines of {directory / 'server.log'}:\n"
                f"{_tail(directory / 'server.log')}{_tail(directory / 'supervisor.log')}"
            )
        time.sleep(0.2)
    supervisor.terminate()  # it stops the server it started
    raise SparkServerError(
        f"The embedded Spark Connect server did not accept connections within {timeout:.0f} s "
        f"(machine busy?). Last lines of {directory / 'server.log'}:\n"
        f"{_tail(directory / 'server.log')}"
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
    except OSError:
        return ""


def release_embedded_spark() -> None:
    """Stop using the embedded server from this process (it stops once no process uses it)."""
    (state_dir() / "users" / str(os.getpid())).unlink(missing_ok=True)


def stop_embedded_spark(*, timeout: float = 60.0) -> bool:
    """Stop the embedded server now, whoever uses it; True if one was running.

    Sends SIGTERM to the supervisor recorded in the state directory (which stops the server
    process group it started) and waits for it to exit.

    Example:
        >>> stop_embedded_spark()  # doctest: +SKIP
        True
    """
    from raystra_spark._resource import close_sessions  # imports this module

    close_sessions()  # while the server is up: a client left open retries at exit
    directory = state_dir()
    release_embedded_spark()
    info = read_state(directory)
    if info is None or not is_alive(info.supervisor_pid):
        return False
    os.kill(info.supervisor_pid, 15)
    deadline = time.monotonic() + timeout
    while is_alive(info.supervisor_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return True
