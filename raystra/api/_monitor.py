"""Run monitoring: drivers heartbeat; runs whose driver died are failed, never left running.

While a run is in progress its driver refreshes ``heartbeat_at`` every
``RAYSTRA_HEARTBEAT_S`` seconds (default 10). `fail_dead_runs` finds runs still QUEUED or
STARTED whose driver is gone: the process is no longer alive on this host, or no heartbeat
arrived for ``RAYSTRA_HEARTBEAT_TIMEOUT_S`` seconds (default 60). Each is recorded as FAILURE
with the reason, its unfinished steps as failed, and the backfill that launched it as FAILED
with every target it did commit marked materialized, so ``raystra backfill resume`` re-runs
exactly the rest. Every raystra command that reads storage checks (at most every few
seconds per process), and so does ``raystra daemon``.

Example:
    >>> from raystra.storage import open_storage
    >>> fail_dead_runs(open_storage("sqlite://"))
    []
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from raystra.definitions import AssetKey
from raystra.events import (
    ErrorInfo,
    Event,
    RunFailed,
    RunStatus,
    StepFailed,
)
from raystra.storage import RunRecord, RunStorage

__all__ = [
    "DRIVER_DIED",
    "check_for_dead_runs",
    "driver_identity",
    "fail_dead_runs",
    "heartbeat_interval_s",
    "heartbeat_timeout_s",
    "heartbeating",
    "reconcile_backfill_targets",
]

DRIVER_DIED = "DriverDied"
_HOST = socket.gethostname()
_CHECK_EVERY_S = 5.0  # how often one process looks for dead runs on its own
_last_check = 0.0
_check_lock = threading.Lock()


def heartbeat_interval_s() -> float:
    """Seconds between a driver's heartbeats (``RAYSTRA_HEARTBEAT_S``, default 10)."""
    return float(os.environ.get("RAYSTRA_HEARTBEAT_S") or 10)


def heartbeat_timeout_s() -> float:
    """Seconds without a heartbeat after which a run is dead (default 60, at least 3 beats)."""
    configured = float(os.environ.get("RAYSTRA_HEARTBEAT_TIMEOUT_S") or 60)
    return max(configured, 3 * heartbeat_interval_s())


def driver_identity() -> dict[str, Any]:
    """The fields a new `RunRecord` gets: this host and process, and a first heartbeat."""
    return {"driver_host": _HOST, "driver_pid": os.getpid(), "heartbeat_at": time.time()}


@contextlib.contextmanager
def heartbeating(storage: RunStorage, run_id: str) -> Iterator[None]:
    """Refresh the run's heartbeat from a background thread while the block runs."""
    stop = threading.Event()
    interval = heartbeat_interval_s()

    def beat() -> None:
        while not stop.wait(interval):
            # A missed beat is harmless (the timeout spans several); never kill the run.
            with contextlib.suppress(Exception):
                storage.heartbeat(run_id, time.time())

    thread = threading.Thread(target=beat, name=f"raystra-heartbeat-{run_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _death(run: RunRecord, now: float, timeout: float) -> str | None:
    """Why ``run``'s driver is considered dead, or None while it may be alive."""
    if run.driver_pid is None and run.heartbeat_at is None:
        return None  # recorded before heartbeats existed: nothing to go by
    if run.driver_host == _HOST and run.driver_pid is not None:
        if run.driver_pid == os.getpid():
            return None
        if not _process_alive(run.driver_pid):
            return f"its driver process (pid {run.driver_pid} on {_HOST}) is gone"
    last = run.heartbeat_at or run.created_at
    if now - last > timeout:
        where = f" (pid {run.driver_pid} on {run.driver_host})" if run.driver_host else ""
        return f"its driver{where} sent no heartbeat for {now - last:.0f} s"
    return None


def fail_dead_runs(
    storage: RunStorage, *, now: float | None = None, timeout_s: float | None = None
) -> list[str]:
    """Mark runs whose driver died as FAILURE (and their backfills FAILED); their ids."""
    now = time.time() if now is None else now
    timeout = heartbeat_timeout_s() if timeout_s is None else timeout_s
    failed: list[str] = []
    candidates = storage.get_runs(limit=1000, statuses=[RunStatus.QUEUED, RunStatus.STARTED])
    for run in candidates:
        reason = _death(run, now, timeout)
        if reason is None:
            continue
        _fail(storage, run, f"The run ended without finishing: {reason}.")
        failed.append(run.run_id)
    return failed


def check_for_dead_runs(storage: RunStorage) -> None:
    """`fail_dead_runs`, at most once every few seconds per process (called by every command)."""
    global _last_check
    with _check_lock:
        if time.monotonic() - _last_check < _CHECK_EVERY_S:
            return
        _last_check = time.monotonic()
    with contextlib.suppress(Exception):  # monitoring must never break the command itself
        fail_dead_runs(storage)


def _fail(storage: RunStorage, run: RunRecord, reason: str) -> None:
    error = ErrorInfo(type_name=DRIVER_DIED, message=reason, traceback="")
    unfinished = [s for s in storage.get_step_stats(run.run_id) if s.status == "IN_PROGRESS"]
    events: list[Event] = [
        StepFailed(run_id=run.run_id, step_key=s.step_key, attempt=max(s.attempts, 1), error=error)
        for s in unfinished
    ]
    events.append(
        RunFailed(
            run_id=run.run_id,
            failed_step_keys=tuple(s.step_key for s in unfinished),
            reason=reason,
        )
    )
    storage.store_events(events)
    backfill_id = run.tags.get("raystra/backfill")
    if backfill_id:
        _settle_backfill(storage, backfill_id)


def _settle_backfill(storage: RunStorage, backfill_id: str) -> None:
    """A backfill whose run died: targets it committed are done, the rest resumable."""
    record = storage.get_backfill(backfill_id)
    if record.status not in ("REQUESTED", "RUNNING", "CANCELING"):
        return
    reconcile_backfill_targets(storage, backfill_id)
    storage.update_backfill(backfill_id, status="FAILED")


def reconcile_backfill_targets(storage: RunStorage, backfill_id: str) -> None:
    """Mark materialized every unfinished target one of the backfill's runs did commit.

    Targets are settled when a backfill's run ends; a run whose driver died never got there,
    yet may have committed many partitions first. Resuming must not compute those again.
    """
    record = storage.get_backfill(backfill_id)
    runs = set(record.run_ids)
    statuses = storage.backfill_target_statuses(backfill_id)
    open_keys = {asset for (asset, _), status in statuses.items() if status != "materialized"}
    done: list[tuple[str, str | None, str]] = []
    for asset in sorted(open_keys):
        states = storage.partition_run_ids(AssetKey.from_user_string(asset))
        for (target_asset, partition), status in statuses.items():
            if target_asset != asset or status == "materialized":
                continue
            if states.get(partition) in runs:
                done.append((asset, partition, "materialized"))
    if done:
        storage.set_backfill_targets(backfill_id, done)
