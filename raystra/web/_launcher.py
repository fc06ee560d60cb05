"""Launching runs from the server: one ``raystra`` process per run, like Dagster's default
run launcher.

Each launch runs ``python -m raystra.cli <definitions> ui worker '<request JSON>'``: the same
code path, events and storage as ``raystra materialize`` on the command line, in a process of
its own, so a run never blocks or crashes the server, and the server can restart while runs
go on. Canceling sends SIGTERM to that process, which the CLI turns into a clean stop: the run
is recorded CANCELED, in-flight Ray tasks are cancelled, and no half-written output is
committed (writes go to a temporary path first).

Example:
    >>> launcher = RunLauncher(["-m", "my_project.definitions"], storage=storage,
    ...                        log_dir=Path("/tmp/launches"))  # doctest: +SKIP
    >>> launch = launcher.launch({"kind": "materialize", "selection": "*"}, run_id="r1")
    ... # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raystra.api._monitor import fail_dead_runs
from raystra.errors import RaystraError, RunNotFoundError
from raystra.events import RunCanceled
from raystra.storage import RunStorage

__all__ = ["Launch", "LaunchError", "RunLauncher"]

_log = logging.getLogger(__name__)
_LOG_TAIL_CHARS = 4000


class LaunchError(RaystraError):
    """A launched run's process ended before the run was recorded (its output says why)."""


@dataclass
class Launch:
    """One launched process: what it runs, where its output goes, and whether it was canceled."""

    launch_id: str
    kind: str
    process: subprocess.Popen[bytes]
    log_path: Path
    cancel_requested: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    def output_tail(self) -> str:
        """The last few thousand characters of the process's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-_LOG_TAIL_CHARS:].strip()


class RunLauncher:
    """Starts runs and backfills as ``raystra`` processes, and cancels them by PID.

    Args:
        target_args: How the child finds the definitions, as CLI arguments
            (``["-m", "my_project.definitions"]`` or ``["-f", "/abs/defs.py"]``).
        storage: The run storage the server reads (the child opens the same one from its
            environment: ``RAYSTRA_STORAGE_URL``, ``[tool.raystra]`` or ``RAYSTRA_HOME``).
        log_dir: Where each launch's stdout and stderr go (``<id>.log``).
        env: Extra environment for the children (``RAYSTRA_EXECUTOR``, ``RAY_ADDRESS``...).
        cwd: Working directory of the children (default: the server's).

    Example:
        >>> RunLauncher(["-f", "defs.py"], storage=storage, log_dir=Path("logs"))
        ... # doctest: +SKIP
    """

    def __init__(
        self,
        target_args: Sequence[str],
        *,
        storage: RunStorage,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self._target_args = list(target_args)
        self._storage = storage
        self._log_dir = log_dir
        self._env = dict(env or {})
        self._cwd = cwd
        self._launches: dict[str, Launch] = {}
        self._lock = threading.Lock()

    def command(self, request: Mapping[str, Any]) -> list[str]:
        """The child's command line for ``request``."""
        return [
            sys.executable,
            "-m",
            "raystra.cli",
            *self._target_args,
            "ui",
            "worker",
            json.dumps(dict(request)),
        ]

    def launch(self, request: Mapping[str, Any], *, launch_id: str) -> Launch:
        """Start the child for ``request`` (``kind``: materialize, reexecute, backfill or
        resume_backfill, with the ids the server chose); returns at once."""
        self._log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self._log_dir / f"{launch_id}.log"
        env = {**os.environ, **self._env}
        with log_path.open("wb") as log:
            # A session of its own: Ctrl-C in the server's terminal must not hit the runs;
            # the server stops them itself, by PID, on shutdown.
            process = subprocess.Popen(
                self.command(request),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self._cwd,
                start_new_session=True,
            )
        launch = Launch(
            launch_id=launch_id, kind=str(request["kind"]), process=process, log_path=log_path
        )
        with self._lock:
            self._launches[launch_id] = launch
        threading.Thread(
            target=self._reap, args=(launch,), name=f"raystra-reap-{launch_id[:8]}", daemon=True
        ).start()
        _log.info("launched %s %s as pid %s", launch.kind, launch_id, process.pid)
        return launch

    def wait_until(
        self, launch: Launch, recorded: Callable[[], bool], *, timeout_s: float = 60.0
    ) -> bool:
        """Wait until ``recorded()`` (the run or backfill is in storage); False on timeout.

        Raises `LaunchError` with the child's output when it ended before that.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if recorded():
                return True
            if launch.done.is_set():
                if recorded():  # it may have finished between the two checks
                    return True
                raise LaunchError(
                    f"The {launch.kind} process (pid {launch.process.pid}) ended with exit code "
                    f"{launch.process.returncode} before recording anything: "
                    f"{launch.output_tail() or '(no output)'}"
                )
            time.sleep(0.05)
        return False

    def get(self, launch_id: str) -> Launch | None:
        """The launch with this id, if this server started it."""
        with self._lock:
            return self._launches.get(launch_id)

    def cancel(self, launch_id: str) -> bool:
        """SIGTERM the process of a launch still running; False if none is."""
        launch = self.get(launch_id)
        if launch is None or launch.process.poll() is not None:
            return False
        launch.cancel_requested = True
        with contextlib.suppress(ProcessLookupError):
            launch.process.send_signal(signal.SIGTERM)
        return True

    def running(self) -> list[Launch]:
        """Launches whose process is still alive."""
        with self._lock:
            return [launch for launch in self._launches.values() if not launch.done.is_set()]

    def shutdown(self, *, timeout_s: float = 30.0) -> None:
        """Cancel every running launch (SIGTERM by PID) and wait for them to record it."""
        alive = self.running()
        for launch in alive:
            self.cancel(launch.launch_id)
        deadline = time.monotonic() + timeout_s
        for launch in alive:
            launch.done.wait(max(0.0, deadline - time.monotonic()))
            if launch.process.poll() is None:
                _log.warning("pid %s did not stop; killing it", launch.process.pid)
                launch.process.kill()

    def _reap(self, launch: Launch) -> None:
        """Wait for the child; leave no run of it in progress however it ended."""
        launch.process.wait()
        try:
            self._settle(launch)
        except Exception:  # the storage may be closing with the server
            _log.exception("settling launch %s failed", launch.launch_id)
        finally:
            launch.done.set()

    def _settle(self, launch: Launch) -> None:
        if launch.kind in ("materialize", "reexecute") and launch.cancel_requested:
            # SIGTERM may land before the executor started (while planning): the CLI then had
            # no run to mark, so the server records the cancellation itself.
            with contextlib.suppress(RunNotFoundError):
                run = self._storage.get_run(launch.launch_id)
                if not run.status.is_finished:
                    self._storage.store_events(
                        [RunCanceled(run_id=run.run_id, reason="canceled from the web UI")]
                    )
        # Anything else the child left in progress (it crashed): failed with the reason.
        fail_dead_runs(self._storage)
