"""Launching the runs schedules, sensors and automation conditions claimed.

A claimed launch (`RunStorage.pending_launches`) carries its run id, so launching it twice
is impossible: the second ``add_run`` of the same id is refused. `RunLauncher` runs launches
in worker threads of the daemon's own process (one Ray driver, started once, shared by every
run) and cancels them when the daemon stops; ``synchronous=True`` runs each in the caller's
thread instead, which is what tests with a stepped clock want.

Example:
    >>> from raystra import Definitions
    >>> from raystra.storage import open_storage
    >>> launcher = RunLauncher(Definitions(), open_storage("sqlite://"), synchronous=True)
    >>> launcher.launch_pending()
    []
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from raystra import api
from raystra.definitions import Definitions
from raystra.errors import RaystraError, RunNotFoundError
from raystra.storage import RunStorage
from raystra.storage._automation_records import RunKeyRecord

__all__ = ["RunLauncher", "launch_run"]

_log = logging.getLogger("raystra.daemon")


def _recorded(storage: RunStorage, run_id: str) -> bool:
    try:
        storage.get_run(run_id)
    except RunNotFoundError:
        return False
    return True


def launch_run(
    definitions: Definitions,
    storage: RunStorage,
    launch: RunKeyRecord,
    *,
    should_cancel: Callable[[], bool] | None = None,
) -> bool | None:
    """Run one claimed launch to the end; True/False for its success, None if it never started.

    A launch that fails before its run is recorded (a partition key the asset does not
    have, a selection that no longer exists) is marked with the error and not retried.
    """
    request = launch.request
    try:
        if request.get("job"):
            result = api.execute_job(
                definitions,
                request["job"],
                run_config=request.get("run_config") or None,
                tags=request.get("tags") or None,
                storage=storage,
                raise_on_error=False,
                run_id=launch.run_id,
                should_cancel=should_cancel,
            )
        else:
            result = api.materialize(
                definitions,
                list(request["selection"]),
                partition_key=request.get("partition_key"),
                run_config=request.get("run_config") or None,
                tags=request.get("tags") or None,
                storage=storage,
                raise_on_error=False,
                run_id=launch.run_id,
                should_cancel=should_cancel,
            )
    except Exception as err:
        if _recorded(storage, launch.run_id):
            raise  # the run itself recorded what went wrong
        message = str(err) if isinstance(err, RaystraError) else f"{type(err).__name__}: {err}"
        _log.warning("%s run key %r could not launch: %s", launch.name, launch.run_key, message)
        storage.record_launch_error(launch.name, launch.run_key, message)
        return None
    _log.info(
        "%s run key %r: run %s %s",
        launch.name,
        launch.run_key,
        launch.run_id,
        "succeeded" if result.success else "did not succeed",
    )
    return result.success


class RunLauncher:
    """Starts claimed launches, at most ``max_concurrent_runs`` at a time.

    Args:
        definitions: The project the runs belong to.
        storage: The run storage the claims live in.
        max_concurrent_runs: Worker threads; runs beyond that wait their turn (in storage,
            so none is lost if the daemon stops first).
        synchronous: Run each launch in the calling thread (tests).
    """

    def __init__(
        self,
        definitions: Definitions,
        storage: RunStorage,
        *,
        max_concurrent_runs: int = 1,
        synchronous: bool = False,
    ) -> None:
        if max_concurrent_runs < 1:
            raise RaystraError("max_concurrent_runs must be at least 1.")
        self.definitions = definitions
        self.storage = storage
        self._synchronous = synchronous
        self._cancel = threading.Event()
        self._pool = (
            None
            if synchronous
            else ThreadPoolExecutor(max_concurrent_runs, thread_name_prefix="raystra-run")
        )
        self._in_flight: dict[str, Future[bool | None]] = {}
        self._lock = threading.Lock()
        self._capacity = max_concurrent_runs

    def launch_pending(self) -> list[str]:
        """Start (or, synchronously, run) every claimed launch not yet running; their run ids."""
        with self._lock:
            for run_id in [r for r, f in self._in_flight.items() if f.done()]:
                self._in_flight.pop(run_id).exception()  # errors were logged by the worker
            room = self._capacity - len(self._in_flight)
        if room <= 0 and not self._synchronous:
            return []
        started: list[str] = []
        seen: set[str] = set()
        for launch in self.storage.pending_launches(limit=100):
            if launch.run_id in seen or launch.run_id in self._in_flight:
                continue  # one run can stand for several automation run keys
            seen.add(launch.run_id)
            if self._pool is None:
                self._run(launch)
            else:
                if len(started) >= room:
                    break
                with self._lock:
                    self._in_flight[launch.run_id] = self._pool.submit(self._run, launch)
            started.append(launch.run_id)
        return started

    def _run(self, launch: RunKeyRecord) -> bool | None:
        try:
            return launch_run(
                self.definitions, self.storage, launch, should_cancel=self._cancel.is_set
            )
        except Exception:
            _log.exception("run %s of %s failed to execute", launch.run_id, launch.name)
            return False

    @property
    def running(self) -> int:
        """How many launched runs are still going."""
        with self._lock:
            return sum(1 for f in self._in_flight.values() if not f.done())

    def shutdown(self, *, timeout_s: float = 60.0) -> None:
        """Cancel runs still going (recorded CANCELED) and wait up to ``timeout_s`` for them."""
        self._cancel.set()
        if self._pool is None:
            return
        with self._lock:
            futures = list(self._in_flight.values())
        for future in futures:
            try:
                future.result(timeout=timeout_s)
            except Exception as err:  # logged by the worker; a timeout leaves it to monitoring
                _log.warning("a run did not stop within %.0f s: %s", timeout_s, err)
        self._pool.shutdown(wait=False, cancel_futures=True)
