"""The daemon loop: run monitoring, schedules, sensors, automation conditions, freshness.

`run_daemon` is the one loop ``raystra daemon`` (in its main thread) and ``raystra dev`` (in
a background thread) both run until their stop event is set. Each iteration, with the real
time: fail runs whose driver died, evaluate schedules and sensors, evaluate automation
conditions, publish freshness gauges, and launch what was claimed. Every part is guarded: a
sensor that raises fails its own tick, a storage hiccup is logged and retried next time.

Example:
    >>> import threading
    >>> stop = threading.Event(); stop.set()
    >>> run_daemon(stop, interval=1.0)  # returns at once: already asked to stop
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from raystra.api._monitor import fail_dead_runs
from raystra.automation._conditions import evaluate_conditions
from raystra.automation._freshness import asset_freshness
from raystra.automation._launcher import RunLauncher
from raystra.automation._ticks import TickOutcome, evaluate_instigators
from raystra.definitions import Definitions
from raystra.observability._freshness_metrics import record_asset_freshness
from raystra.storage import RunStorage, open_storage

__all__ = ["AutomationDaemon", "Iteration", "run_daemon", "utc_now"]

_log = logging.getLogger("raystra.daemon")


def utc_now() -> datetime:
    """The real clock, as the daemon reads it (tests pass their own ``now`` instead)."""
    return datetime.now(UTC)


@dataclass
class Iteration:
    """What one daemon iteration did."""

    dead_runs: list[str] = field(default_factory=list)
    ticks: list[TickOutcome] = field(default_factory=list)
    automation_runs: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    launched: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class AutomationDaemon:
    """One daemon's state: the definitions, the storage and the launcher of its runs.

    Example:
        >>> from raystra.storage import open_storage
        >>> daemon = AutomationDaemon(None, open_storage("sqlite://"))
        >>> daemon.iterate(utc_now()).dead_runs
        []
    """

    def __init__(
        self,
        definitions: Definitions | None,
        storage: RunStorage,
        *,
        launcher: RunLauncher | None = None,
        max_concurrent_runs: int = 1,
    ) -> None:
        self.definitions = definitions
        self.storage = storage
        if launcher is None and definitions is not None:
            launcher = RunLauncher(definitions, storage, max_concurrent_runs=max_concurrent_runs)
        self.launcher = launcher

    def _guard(self, what: str, work: Callable[[], None], report: Iteration) -> None:
        try:
            work()
        except Exception as err:  # one part failing must never end the loop
            _log.exception("daemon: %s failed, will retry next iteration", what)
            report.errors.append(f"{what}: {err}")

    def iterate(self, now: datetime) -> Iteration:
        """Do one iteration's work at ``now``."""
        report = Iteration()

        def monitor() -> None:
            report.dead_runs = fail_dead_runs(self.storage)

        self._guard("run monitoring", monitor, report)
        defs = self.definitions
        if defs is None:
            return report

        def instigators() -> None:
            report.ticks = evaluate_instigators(defs, self.storage, now=now)

        def conditions() -> None:
            report.automation_runs = evaluate_conditions(defs, self.storage, now=now)

        def freshness() -> None:
            states = asset_freshness(defs, self.storage, now=now)
            report.overdue = [s.asset_key.to_user_string() for s in states if s.overdue]
            record_asset_freshness(
                {s.asset_key.to_user_string(): s.minutes_overdue for s in states}
            )

        def launch() -> None:
            if self.launcher is not None:
                report.launched = self.launcher.launch_pending()

        self._guard("schedules and sensors", instigators, report)
        self._guard("automation conditions", conditions, report)
        self._guard("freshness", freshness, report)
        self._guard("launching runs", launch, report)
        return report

    def shutdown(self) -> None:
        """Cancel runs this daemon launched that are still going."""
        if self.launcher is not None:
            self.launcher.shutdown()


def run_daemon(
    stop: threading.Event,
    *,
    interval: float,
    definitions: Definitions | None = None,
    storage: RunStorage | None = None,
    max_concurrent_runs: int = 1,
    on_iteration: Callable[[Iteration], None] | None = None,
) -> None:
    """Iterate every ``interval`` seconds until ``stop`` is set, then cancel runs in flight.

    Without ``definitions`` only run monitoring happens. ``storage`` defaults to the
    configured one (opened here and closed on return).
    """
    own = storage is None
    store = open_storage() if storage is None else storage
    daemon = AutomationDaemon(definitions, store, max_concurrent_runs=max_concurrent_runs)
    try:
        while not stop.is_set():
            started = time.monotonic()
            report = daemon.iterate(utc_now())
            if on_iteration is not None:
                on_iteration(report)
            # Sensors with short intervals need the loop to come round often enough.
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        daemon.shutdown()
        if own:
            store.close()
