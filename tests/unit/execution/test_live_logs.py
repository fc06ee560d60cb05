"""Live step logs in process: a running step's lines are in run storage before it ends."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from raystra import AssetExecutionContext, RetryPolicy, api, asset, materialize
from raystra.errors import RunNotFoundError
from raystra.events import Event, LogMessage, StepStarted, StepSucceeded
from raystra.observability import StepLogCapture

_WAIT_S = 60.0  # how long a held step or the test waits for the other side (never reached)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` if it never becomes true."""
    deadline = time.monotonic() + _WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def hold_until(flag: Path) -> None:
    """What a held step does: wait (silently) until the test creates ``flag``."""
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
    """``materialize`` in a background thread (the test watches storage meanwhile)."""

    def __init__(self, assets: list[Any]) -> None:
        self.run_id = str(uuid.uuid4())
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(assets,), daemon=True)
        self._thread.start()

    def _run(self, assets: list[Any]) -> None:
        try:
            self.result = materialize(assets, executor="in_process", run_id=self.run_id)
        except BaseException as exc:
            self.error = exc

    def join(self) -> Any:
        self._thread.join(_WAIT_S)
        assert not self._thread.is_alive(), "the run did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def test_a_running_steps_lines_are_stored_before_it_ends(tmp_path: Path) -> None:
    release = tmp_path / "release"

    @asset
    def slow(context: AssetExecutionContext) -> int:
        context.log.info("loading the first batch")
        print("printed before the wait")
        hold_until(release)  # lines followed by silence
        context.log.info("done after the wait")
        return 1

    run = RunInThread([slow])
    wait_for(
        lambda: stored_lines(run.run_id) == ["loading the first batch", "printed before the wait"],
        "the held step's first lines in storage",
    )
    kinds = step_kinds(run.run_id, "slow")
    assert "StepStarted" in kinds and "StepSucceeded" not in kinds  # still running
    release.touch()
    result = run.join()

    expected = ["loading the first batch", "printed before the wait", "done after the wait"]
    assert stored_lines(run.run_id) == expected  # each line stored once, in order
    assert [e.message for e in result.events if isinstance(e, LogMessage)] == expected
    kinds = step_kinds(run.run_id, "slow")
    assert kinds.index("StepStarted") < kinds.index("LogMessage")
    assert kinds[-1] == "StepSucceeded"


def test_live_lines_of_a_failed_then_retried_step_are_stored_once(tmp_path: Path) -> None:
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
    assert "StepSucceeded" not in step_kinds(run.run_id, "flaky")
    (tmp_path / "release-2").touch()
    assert run.join().success

    assert stored_lines(run.run_id) == [
        "attempt 1 started",
        "attempt 1 going on",
        "attempt 2 started",
        "attempt 2 going on",
    ]
    kinds = step_kinds(run.run_id, "flaky")
    assert kinds.count("LogMessage") == 4
    # Attempt 1's lines sit between its start and its retry, attempt 2's before success.
    assert (
        kinds.index("StepRetrying") < kinds.index("StepStarted", 1) < kinds.index("StepSucceeded")
    )


def test_a_failing_sink_leaves_the_lines_to_the_steps_end() -> None:
    def broken_sink(batch: Sequence[Event]) -> None:
        raise OSError("storage is down")

    sent: list[Event] = []
    capture = StepLogCapture(run_id="r", step_key="s", live=broken_sink)
    working = StepLogCapture(run_id="r", step_key="t", live=sent.extend)
    capture.logger.info("kept")
    working.logger.info("sent live")
    wait_for(lambda: len(sent) == 1, "the working capture's live line")
    capture.logger.info("also kept")
    assert [e.message for e in capture.take_unsent()] == ["kept", "also kept"]
    working.logger.info("at the end")
    assert [e.message for e in working.take_unsent()] == ["at the end"]
    assert working.take_unsent() == []


def test_a_quick_steps_line_is_stored_once_between_its_start_and_end() -> None:
    @asset
    def quick(context: AssetExecutionContext) -> int:
        context.log.info("quick line")
        return 1

    result = materialize([quick], executor="in_process")
    kinds = [e.kind for e in result.events if getattr(e, "step_key", None) == "quick"]
    assert kinds.count("LogMessage") == 1
    assert isinstance(result.events[1], StepStarted)
    assert isinstance(result.events[-2], StepSucceeded)


def test_lines_logged_while_flushes_go_out_are_each_stored_once_in_order() -> None:
    @asset
    def chatty(context: AssetExecutionContext) -> int:
        deadline = time.monotonic() + 1.5  # several live flushes happen while it logs
        count = 0
        while time.monotonic() < deadline or count < 500:
            if count % 2:
                context.log.info(f"line {count}")
            else:
                print(f"line {count}")
            count += 1
            time.sleep(0.001)
        return count

    result = materialize([chatty], executor="in_process")
    lines = stored_lines(result.run_id)
    assert lines == [f"line {i}" for i in range(len(lines))]
    assert len(lines) == result.output_for("chatty")
