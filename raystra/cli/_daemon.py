"""``raystra daemon``: the long-running loop that keeps run history honest.

Today it watches runs: every ``--interval`` seconds it fails runs whose driver died (no
heartbeat, or the process is gone), so nothing stays "in progress" while nobody runs a raystra
command. Schedules and sensors join this loop later. It stops cleanly on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated, Any

import typer
from rich.text import Text

from raystra.api._monitor import fail_dead_runs
from raystra.cli._render import output_console
from raystra.storage import open_storage

__all__ = ["daemon", "daemon_loop"]


def daemon(
    interval: Annotated[
        float,
        typer.Option("--interval", help="Seconds between checks.", min=0.1),
    ] = 15.0,
) -> None:
    """Watch runs: fail those whose driver died, so none stays in progress. Stop with SIGTERM."""
    console = output_console()
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    console.print(f"raystra daemon: checking runs every {interval:g} s (SIGTERM to stop)")
    daemon_loop(stop, interval=interval)
    console.print("raystra daemon: stopped")


def daemon_loop(stop: threading.Event, *, interval: float) -> None:
    """The daemon's work, every ``interval`` seconds until ``stop`` is set.

    ``raystra daemon`` runs it in the main thread, ``raystra dev`` in a background thread
    beside the web server.
    """
    console = output_console()
    storage = open_storage()
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                for run_id in fail_dead_runs(storage):
                    console.print(Text(f"run {run_id}: driver gone, marked FAILURE", style="red"))
            except Exception as err:  # a storage hiccup must not end the daemon
                console.print(Text(f"check failed, will retry: {err}", style="yellow"))
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        storage.close()
