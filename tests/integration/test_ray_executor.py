"""The Ray executor on a real local Ray: parallelism, failures, retries, limits, handoff."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from raystra import (
    AssetExecutionContext,
    Definitions,
    RetryPolicy,
    asset,
    materialize,
    reexecute,
)
from raystra.events import (
    AssetMaterialized,
    Event,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from raystra.execution.ray import InfeasibleResourceError

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("on_ray")]


def intervals(events: list[Event]) -> dict[str, tuple[float, float]]:
    """Step key -> (start of its last attempt, end), from the events' own timestamps."""
    starts = {e.step_key: e.timestamp for e in events if isinstance(e, StepStarted)}
    ends = {e.step_key: e.timestamp for e in events if isinstance(e, StepSucceeded)}
    return {key: (starts[key], ends[key]) for key in ends}


def max_overlap(spans: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, delta in points:
        running += delta
        peak = max(peak, running)
    return peak


@asset
def sleepy_a() -> int:
    time.sleep(1)
    return 1


@asset
def sleepy_b() -> int:
    time.sleep(1)
    return 2


@asset
def joined(sleepy_a: int, sleepy_b: int) -> int:
    return sleepy_a + sleepy_b


def test_independent_steps_run_in_parallel() -> None:
    result = materialize([sleepy_a, sleepy_b, joined])
    assert result.success and result.output_for("joined") == 3
    spans = intervals(result.events)
    (a_start, a_end), (b_start, b_end) = spans["sleepy_a"], spans["sleepy_b"]
    assert a_start < b_end and b_start < a_end, "the two 1 s steps did not overlap"
    assert max(a_end, b_end) - min(a_start, b_start) < 1.9  # well under 2 s of wall time
    assert spans["joined"][0] >= max(a_end, b_end)  # the join waited for both


def test_steps_run_in_ray_workers_not_the_driver() -> None:
    @asset
    def where() -> int:
        return os.getpid()

    result = materialize([where])
    started = next(e for e in result.events if isinstance(e, StepStarted))
    assert started.pid != os.getpid()
    assert result.output_for("where") == started.pid


def test_failure_skips_dependents_and_keeps_independent_branches(tmp_path: Path) -> None:
    @asset
    def root() -> int:
        return 1

    @asset
    def explodes(root: int) -> int:
        raise ZeroDivisionError("division by zero in explodes")

    @asset
    def child(explodes: int) -> int:
        return explodes

    @asset
    def grandchild(child: int) -> int:
        return child

    @asset(deps=["explodes"])
    def ordered_after() -> int:
        return 0

    @asset
    def healthy(root: int) -> int:
        return root + 1

    result = materialize(
        [root, explodes, child, grandchild, ordered_after, healthy], raise_on_error=False
    )
    assert result.status.value == "FAILURE"
    (failure,) = result.failed_steps
    assert failure.step_key == "explodes" and failure.error.type_name == "ZeroDivisionError"
    assert "division by zero in explodes" in failure.error.traceback
    assert failure.pid and failure.pid != os.getpid() and failure.host
    skipped = {e.step_key: e.reason for e in result.events if isinstance(e, StepSkipped)}
    assert skipped == {
        "child": "upstream step 'explodes' failed",
        "grandchild": "upstream step 'child' skipped",
        "ordered_after": "upstream step 'explodes' failed",
    }
    assert result.output_for("healthy") == 2


def test_retry_policy_retries_application_errors(tmp_path: Path) -> None:
    attempts_file = tmp_path / "attempts"

    @asset(retry_policy=RetryPolicy(max_retries=2, delay=0.1))
    def flaky(context: AssetExecutionContext) -> int:
        with attempts_file.open("a") as handle:
            handle.write(f"{context.attempt}\n")
        if context.attempt < 3:
            raise ConnectionResetError(f"attempt {context.attempt} lost the connection")
        return 42

    result = materialize([flaky])
    assert result.output_for("flaky") == 42
    assert attempts_file.read_text().split() == ["1", "2", "3"]
    retrying = [e for e in result.events if isinstance(e, StepRetrying)]
    assert [(e.attempt, e.error.type_name) for e in retrying] == [
        (1, "ConnectionResetError"),
        (2, "ConnectionResetError"),
    ]


def test_killed_worker_is_retried_and_materializes_once(tmp_path: Path) -> None:
    pid_file = tmp_path / "first_attempt.pid"

    @asset
    def survivor() -> pa.Table:
        if not pid_file.exists():
            pid_file.write_text(str(os.getpid()))
            time.sleep(60)  # killed long before this ends
        return pa.table({"x": [1, 2, 3]})

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    result = materialize([survivor])
    killer.join()
    assert result.success
    materialized = [e for e in result.events if isinstance(e, AssetMaterialized)]
    assert len(materialized) == 1 and materialized[0].metadata["row_count"] == 3
    (lost,) = [e for e in result.events if isinstance(e, StepRetrying)]
    assert lost.attempt == 1 and lost.error.type_name == "WorkerDied"
    started = [e.attempt for e in result.events if isinstance(e, StepStarted)]
    assert started == [1, 2]
    final = Path(materialized[0].metadata["path"])
    assert [p.name for p in final.parent.iterdir() if "tmp" in p.name] == []


def test_ray_options_reach_the_task() -> None:
    @asset(ray_options={"num_cpus": 2})
    def two_cpus() -> float:
        import ray

        return float(ray.get_runtime_context().get_assigned_resources().get("CPU", 0))

    assert materialize([two_cpus]).output_for("two_cpus") == 2.0


def test_infeasible_resources_fail_fast_naming_asset_and_resource() -> None:
    @asset(ray_options={"resources": {"tpu_pod": 1}})
    def needs_tpu() -> int:
        return 1

    started = time.monotonic()
    with pytest.raises(InfeasibleResourceError) as info:
        materialize([needs_tpu])
    assert "'needs_tpu'" in str(info.value) and "'tpu_pod'" in str(info.value)
    assert time.monotonic() - started < 30  # it did not hang waiting for a node


def test_large_output_is_written_beside_downstream_work(tmp_path: Path) -> None:
    from raystra_io import ParquetIOManager

    class SlowParquet(ParquetIOManager):
        def handle_output(self, context: Any, obj: Any) -> Any:
            time.sleep(1.5)  # a slow object store
            return super().handle_output(context, obj)

    @asset
    def big() -> pa.Table:
        return pa.table({"x": pa.array(range(2_000_000), pa.int64())})  # 16 MB: deferred

    @asset
    def consumer(big: pa.Table) -> int:
        return big.num_rows

    defs = Definitions(
        [big, consumer], resources={"io_manager": SlowParquet(base_path=str(tmp_path / "lake"))}
    )
    result = materialize(defs)
    assert result.success and result.output_for("consumer") == 2_000_000
    big_written = next(
        e.timestamp
        for e in result.events
        if isinstance(e, AssetMaterialized) and e.step_key == "big"
    )
    consumer_started = next(
        e.timestamp
        for e in result.events
        if isinstance(e, StepStarted) and e.step_key == "consumer"
    )
    assert consumer_started < big_written, "downstream waited for the upstream write"
    kinds = [(e.kind, getattr(e, "step_key", None)) for e in result.events]
    # big succeeds only once its write committed
    assert kinds.index(("AssetMaterialized", "big")) < kinds.index(("StepSucceeded", "big"))
    assert result.output_for("big").num_rows == 2_000_000


def test_max_concurrent_and_pools_are_never_exceeded() -> None:
    steps = []
    for i in range(4):

        @asset(name=f"pooled_{i}", pool="warehouse")
        def pooled() -> int:
            time.sleep(0.3)
            return 1

        steps.append(pooled)
    for i in range(3):

        @asset(name=f"free_{i}")
        def free() -> int:
            time.sleep(0.3)
            return 1

        steps.append(free)
    defs = Definitions(steps, pools={"warehouse": 1})
    result = materialize(defs)
    spans = intervals(result.events)
    assert max_overlap([span for key, span in spans.items() if key.startswith("pooled")]) == 1

    limited = materialize(defs, max_concurrent=1)
    assert max_overlap(list(intervals(limited.events).values())) == 1


def test_long_chain_and_wide_fan_in() -> None:
    chain = []
    for i in range(2000):

        @asset(name=f"c{i}", ins={} if i == 0 else None, deps=[f"c{i - 1}"] if i else [])
        def link() -> None:
            return None

        chain.append(link)
    assert materialize(chain).success

    @asset
    def fan_root() -> int:
        return 1

    wide = [fan_root]
    for i in range(100):

        @asset(name=f"w{i}")
        def branch(fan_root: int) -> int:
            return fan_root

        wide.append(branch)

    @asset(deps=[f"w{i}" for i in range(100)])
    def fan_in() -> str:
        return "done"

    result = materialize([*wide, fan_in])
    assert result.success and result.output_for("fan_in") == "done"


def test_reexecute_from_failure_on_ray(tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"

    @asset
    def base() -> int:
        return 10

    @asset
    def fragile(base: int) -> int:
        if not fixed.exists():
            raise RuntimeError("not yet")
        return base * 2

    @asset
    def final(fragile: int) -> int:
        return fragile + 1

    defs = Definitions([base, fragile, final])
    first = materialize(defs, raise_on_error=False)
    assert not first.success
    fixed.touch()
    second = reexecute(defs, first.run_id, executor="ray")
    assert second.success and second.output_for("final") == 21
    assert [e.step_key for e in second.events if isinstance(e, StepStarted)] == [
        "fragile",
        "final",
    ]


@asset
def shipped_a() -> int:
    return 1


@asset
def shipped_b(shipped_a: int) -> int:
    return shipped_a + 1


def _published_step_sets() -> set[str]:
    from ray.experimental import internal_kv

    return {
        key.decode() if isinstance(key, bytes) else key
        for key in internal_kv._internal_kv_list("steps/", namespace="raystra")
    }


def test_runs_of_one_plan_share_one_published_step_set() -> None:
    """Repeated runs (a schedule, a re-run) do not grow the cluster's store per run."""
    defs = Definitions([shipped_a, shipped_b])
    before = _published_step_sets()
    for _ in range(3):
        assert materialize(defs).output_for("shipped_b") == 2
    after_same_plan = _published_step_sets() - before
    assert len(after_same_plan) == 1
    assert materialize(defs, selection="shipped_a").output_for("shipped_a") == 1
    assert len(_published_step_sets() - before) == 2  # another plan, another entry
    # The first plan's steps are still served to workers (they cache what they decoded).
    assert materialize(defs).output_for("shipped_b") == 2
