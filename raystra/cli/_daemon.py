"""``raystra daemon``: the long-running loop that runs automation and keeps run history honest.

Every ``--interval`` seconds it fails runs whose driver died, and, when definitions are found
(``-m``/``-f`` or ``[tool.raystra]``), evaluates schedules, sensors, automation conditions and
freshness, and launches the runs they claimed (`raystra.automation._daemon.run_daemon`, the
loop ``raystra dev`` also runs). It stops cleanly on SIGTERM or Ctrl-C, canceling runs it
launched that are still going.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Any

import typer
from rich.text import Text

from raystra.automation._daemon import Iteration, run_daemon
from raystra.cli._loading import AttributeOption, FileOption, ModuleOption, definitions_from
from raystra.cli._render import output_console
from raystra.definitions import Definitions
from raystra.errors import DefinitionsLoadError

__all__ = ["daemon", "daemon_loop"]


def daemon(
    ctx: typer.Context,
    interval: Annotated[
        float,
        typer.Option("--interval", help="Seconds between iterations.", min=0.1),
    ] = 15.0,
    max_concurrent_runs: Annotated[
        int, typer.Option("--max-concurrent-runs", help="Runs launched at once.", min=1)
    ] = 1,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Run schedules, sensors and automation; fail runs whose driver died. Stop with SIGTERM."""
    console = output_console()
    try:
        defs: Definitions | None = definitions_from(ctx, module, file, attribute)
    except DefinitionsLoadError as err:
        if "could not find your definitions" not in str(err):
            raise
        defs = None
        console.print("raystra daemon: no definitions found, only watching runs")
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    # raystra's own records (launch outcomes, failed ticks, catch-up) at INFO; libraries only
    # when they warn (alembic would otherwise narrate every migration of a new database).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("raystra").setLevel(logging.INFO)
    what = f"{len(defs.schedules)} schedule(s), {len(defs.sensors)} sensor(s)" if defs else "runs"
    console.print(f"raystra daemon: {what}, every {interval:g} s (SIGTERM to stop)")
    daemon_loop(stop, interval=interval, definitions=defs, max_concurrent_runs=max_concurrent_runs)
    console.print("raystra daemon: stopped")


def daemon_loop(
    stop: threading.Event,
    *,
    interval: float,
    definitions: Definitions | None = None,
    max_concurrent_runs: int = 1,
) -> None:
    """The daemon's work, every ``interval`` seconds until ``stop`` is set.

    ``raystra daemon`` runs it in the main thread, ``raystra dev`` in a background thread
    beside the web server.
    """
    console = output_console()
    overdue_before: set[str] = set()

    def report(iteration: Iteration) -> None:
        nonlocal overdue_before
        for run_id in iteration.dead_runs:
            console.print(Text(f"run {run_id}: driver gone, marked FAILURE", style="red"))
        for run_id in iteration.launched:
            console.print(f"run {run_id}: launched")
        # Said once when an asset becomes overdue, not on every iteration it stays so.
        for asset in sorted(set(iteration.overdue) - overdue_before):
            console.print(Text(f"asset {asset}: overdue (freshness policy)", style="yellow"))
        overdue_before = set(iteration.overdue)
        for error in iteration.errors:
            console.print(Text(f"{error} (will retry)", style="yellow"))

    run_daemon(
        stop,
        interval=interval,
        definitions=definitions,
        max_concurrent_runs=max_concurrent_runs,
        on_iteration=report,
    )
