"""Live step logs on Ray: a worker's running step's lines are in run storage before it ends."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from raystra import AssetExecutionContext, RetryPolicy, api, asset, materialize
from raystra.errors import RunNotFoundError
from raystra.events import LogMessage, StepStarted

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("on_ray")]

_WAIT_S = 120.0  # how long a held step or the test waits for the other side (never reached)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` if it never becomes true."""
    deadline = time.monotonic() + _WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def hold_until(flag: Path) -> None:
    """What a held step does in its worker: wait (silently) until the test creates ``flag``."""
    deadline = time.monotonic() + _WAIT_S
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def stored_lines(run_id: str) -> list[str]:
    try:
        events = api.run_events(run_id, kinds=[LogMessage.kind])
    except RunNotFoundError:  # not recorded yet
        return []
    return [e.message for e in events if isinstance(e, LogMessage)]


def step_kinds(run_id: str, step_key: str) -> list[str]:
    return [e.kind for e in api.run_events(run_id, step_key=step_key)]


class RunInThread:
    """``materialize`` on Ray in a background thread (the test watches storage meanwhile)."""

    def __init__(self, assets: list[Any]) -> None:
        self.run_id = str(uuid.uuid4())
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(assets,), daemon=True)
        self._thread.start()

    def _run(self, assets: list[Any]) -> None:
        try:
            self.result = materialize(assets, executor="ray", run_id=self.run_id)
        except BaseException as exc:
            self.error = exc

    def join(self) -> Any:
        self._thread.join(_WAIT_S)
        assert not self._thread.is_alive(), "the run did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def test_a_ray_workers_running_step_shows_its_lines_before_it_ends(tmp_path: Path) -> None:
    release = tmp_path / "release"

    @asset
    def long_load(context: AssetExecutionContext) -> int:
        context.log.info("reading 12 files")
        print("file 1 of 12 read")
        hold_until(release)  # lines followed by silence
        context.log.info("all files read")
        return 12

    run = RunInThread([long_load])
    wait_for(
        lambda: stored_lines(run.run_id) == ["reading 12 files", "file 1 of 12 read"],
        "the running step's first lines in storage",
    )
    assert "StepSucceeded" not in step_kinds(run.run_id, "long_load")
    release.touch()
    result = run.join()

    assert result.success
    expected = ["reading 12 files", "file 1 of 12 read", "all files read"]
    assert stored_lines(run.run_id) == expected  # each line stored once, in order
    assert [e.message for e in result.events if isinstance(e, LogMessage)] == expected
    assert step_kinds(run.run_id, "long_load")[-1] == "StepSucceeded"


def test_live_lines_of_a_step_that_raises_and_retries_are_stored_once(tmp_path: Path) -> None:
    @asset(retry_policy=RetryPolicy(max_retries=1))
    def flaky(context: AssetExecutionContext) -> int:
        context.log.info(f"attempt {context.attempt} started")
        hold_until(tmp_path / f"release-{context.attempt}")
        context.log.warning(f"attempt {context.attempt} going on")
        if context.attempt == 1:
            raise RuntimeError("the source was not ready")
        return 1

    run = RunInThread([flaky])
    wait_for(lambda: "attempt 1 started" in stored_lines(run.run_id), "attempt 1's line")
    (tmp_path / "release-1").touch()
    wait_for(lambda: "attempt 2 started" in stored_lines(run.run_id), "attempt 2's line")
    (tmp_path / "release-2").touch()
    assert run.join().success

    assert stored_lines(run.run_id) == [
        "attempt 1 started",
        "attempt 1 going on",
        "attempt 2 started",
        "attempt 2 going on",
    ]
    # Attempt 1's last line and its retry travelled ahead of attempt 2's live lines.
    assert [k for k in step_kinds(run.run_id, "flaky") if k != "OutputSchemaChecked"] == [
        "StepStarted",
        "LogMessage",
        "LogMessage",
        "StepRetrying",
        "StepStarted",
        "LogMessage",
        "LogMessage",
        "AssetMaterialized",
        "StepSucceeded",
    ]


def test_lines_sent_before_the_worker_was_killed_are_stored_once(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"

    @asset
    def doomed(context: AssetExecutionContext) -> int:
        if not pid_file.exists():  # the first run of the task: its worker gets killed
            context.log.info("first worker started")
            pid_file.write_text(str(os.getpid()))
            time.sleep(_WAIT_S)
        context.log.info("second worker finished")
        return 1

    run = RunInThread([doomed])
    wait_for(lambda: "first worker started" in stored_lines(run.run_id), "the first line")
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    result = run.join()

    assert result.success  # Ray ran the task again on a new worker
    assert stored_lines(run.run_id) == ["first worker started", "second worker finished"]
    started = api.run_events(run.run_id, kinds=[StepStarted.kind])
    assert [e.attempt for e in started if isinstance(e, StepStarted)] == [1, 2]  # no repeats
