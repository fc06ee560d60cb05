"""The in-process executor through the public API: failures, skips, retries, logs, outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from raystra import (
    AssetExecutionContext,
    AssetOut,
    Backoff,
    Definitions,
    MaterializeResult,
    Output,
    RetryPolicy,
    asset,
    materialize,
    multi_asset,
)
from raystra.definitions import InMemoryIOManager
from raystra.errors import StepExecutionError
from raystra.events import (
    AssetMaterialized,
    LogMessage,
    RunFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from raystra.execution import InProcessExecutor


def kinds(result: Any, step_key: str) -> list[str]:
    return [e.kind for e in result.events if getattr(e, "step_key", None) == step_key]


@asset
def source() -> list[int]:
    return [1, 2, 3]


@asset
def broken(source: list[int]) -> int:
    raise ValueError(f"cannot handle {len(source)} rows")


@asset
def after_broken(broken: int) -> int:
    return broken


@asset
def after_after(after_broken: int) -> int:
    return after_broken


@asset
def independent(source: list[int]) -> int:
    return sum(source)


def test_failure_records_traceback_skips_dependents_and_keeps_independent_branches() -> None:
    defs = Definitions([source, broken, after_broken, after_after, independent])
    result = materialize(defs, raise_on_error=False)

    assert not result.success and result.status.value == "FAILURE"
    (failure,) = result.failed_steps
    assert failure.step_key == "broken"
    assert failure.error.type_name == "ValueError"
    assert failure.error.message == "cannot handle 3 rows"
    assert "Traceback (most recent call last)" in failure.error.traceback
    assert 'raise ValueError(f"cannot handle {len(source)} rows")' in failure.error.traceback

    skipped = {e.step_key: e for e in result.events if isinstance(e, StepSkipped)}
    assert set(skipped) == {"after_broken", "after_after"}
    assert skipped["after_broken"].reason == "upstream step 'broken' failed"
    assert skipped["after_after"].reason == "upstream step 'after_broken' skipped"
    assert kinds(result, "independent")[-1] == "StepSucceeded"
    assert isinstance(result.events[-1], RunFailed)
    assert result.events[-1].failed_step_keys == ("broken",)


def test_raise_on_error_raises_a_readable_summary() -> None:
    with pytest.raises(StepExecutionError, match="step 'broken' raised ValueError: cannot handle"):
        materialize([source, broken])


def test_retry_policy_retries_with_backoff_and_records_each_attempt() -> None:
    attempts = []

    @asset(retry_policy=RetryPolicy(max_retries=3, delay=0.5, backoff=Backoff.EXPONENTIAL))
    def flaky(context: AssetExecutionContext) -> int:
        attempts.append(context.retry_number)
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {context.attempt} lost the connection")
        return 7

    slept: list[float] = []
    result = materialize([flaky], executor=InProcessExecutor(sleep=slept.append))
    assert result.success
    assert attempts == [0, 1, 2]
    assert slept == [0.5, 1.0]  # exponential: 0.5, then 1.0
    started = [e.attempt for e in result.events if isinstance(e, StepStarted)]
    assert started == [1, 2, 3]
    retries = [e for e in result.events if isinstance(e, StepRetrying)]
    assert [r.error.message for r in retries] == [
        "attempt 1 lost the connection",
        "attempt 2 lost the connection",
    ]
    assert [e.attempt for e in result.events if isinstance(e, StepSucceeded)] == [3]
    assert result.output_for("flaky") == 7


def test_retries_exhausted_fail_the_step_with_the_last_error() -> None:
    @asset(retry_policy=RetryPolicy(max_retries=1))
    def always_fails() -> int:
        raise RuntimeError("still broken")

    result = materialize([always_fails], raise_on_error=False)
    (failure,) = result.failed_steps
    assert failure.attempt == 2 and failure.error.message == "still broken"


def test_context_log_stdout_and_stderr_are_captured_as_events() -> None:
    import sys

    @asset
    def chatty(context: AssetExecutionContext) -> int:
        context.log.info("processing %d rows", 12)
        context.log.warning("late data")
        print("hello from print")
        print("to stderr", file=sys.stderr)
        return 1

    result = materialize([chatty])
    logs = [(e.source, e.level, e.message) for e in result.events if isinstance(e, LogMessage)]
    assert ("log", "INFO", "processing 12 rows") in logs
    assert ("log", "WARNING", "late data") in logs
    assert ("stdout", "INFO", "hello from print") in logs
    assert ("stderr", "ERROR", "to stderr") in logs


def test_logs_of_a_failing_step_are_kept() -> None:
    @asset
    def fails_after_logging(context: AssetExecutionContext) -> int:
        context.log.info("about to fail")
        raise ValueError("bad")

    result = materialize([fails_after_logging], raise_on_error=False)
    assert "about to fail" in [e.message for e in result.events if isinstance(e, LogMessage)]


def test_parquet_outputs_record_metadata_automatically(raystra_home: Path) -> None:
    @asset(code_version="4")
    def table() -> pa.Table:
        return pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})

    result = materialize([table])
    (mat,) = result.materializations
    assert mat.metadata["row_count"] == 3
    assert mat.metadata["schema"] == [
        {"name": "id", "type": "int64"},
        {"name": "name", "type": "string"},
    ]
    assert mat.metadata["byte_size"] == Path(mat.metadata["path"]).stat().st_size > 0
    assert Path(mat.metadata["path"]).is_relative_to(raystra_home / "storage")
    assert mat.code_version == "4"
    assert result.output_for("table").equals(pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]}))


def test_materialize_result_without_value_skips_the_io_manager() -> None:
    io = InMemoryIOManager()

    @asset
    def report(context: AssetExecutionContext) -> MaterializeResult:
        context.add_output_metadata({"from_context": True})
        return MaterializeResult(metadata={"pages": 3})

    result = materialize([report], resources={"io_manager": io})
    (mat,) = result.materializations
    assert mat.metadata == {"from_context": True, "pages": 3}
    assert io.values == {}


def test_materialize_result_with_value_is_stored() -> None:
    io = InMemoryIOManager()

    @asset
    def numbers() -> MaterializeResult:
        return MaterializeResult(value=[4, 5], metadata={"count": 2})

    result = materialize([numbers], resources={"io_manager": io})
    assert result.output_for("numbers") == [4, 5]
    assert result.materializations[0].metadata == {"count": 2}


def test_multi_asset_tuple_and_yielded_outputs() -> None:
    io = InMemoryIOManager()

    @multi_asset(outs={"evens": AssetOut(), "odds": AssetOut()})
    def split_tuple(source: list[int]):
        return [s for s in source if s % 2 == 0], [s for s in source if s % 2]

    @multi_asset(outs={"small": AssetOut(), "large": AssetOut()})
    def split_yield(source: list[int]):
        yield Output([s for s in source if s > 1], output_name="large", metadata={"n": 2})
        yield Output([s for s in source if s <= 1], output_name="small")

    result = materialize([source, split_tuple, split_yield], resources={"io_manager": io})
    assert result.output_for("evens") == [2] and result.output_for("odds") == [1, 3]
    assert result.output_for("large") == [2, 3] and result.output_for("small") == [1]
    by_key = {m.asset_key.to_user_string(): m for m in result.materializations}
    assert by_key["large"].metadata == {"n": 2}


def test_multi_asset_missing_output_fails_clearly() -> None:
    @multi_asset(outs={"a": AssetOut(), "b": AssetOut()})
    def half():
        yield Output(1, output_name="a")

    result = materialize([half], raise_on_error=False)
    assert "finished without producing outputs ['b']" in result.failed_steps[0].error.message
    assert result.materializations == []


def test_inputs_outside_the_selection_load_from_storage() -> None:
    calls = []

    @asset
    def upstream() -> list[int]:
        calls.append("upstream")
        return [10, 20]

    @asset
    def downstream(upstream: list[int]) -> int:
        return sum(upstream)

    defs = Definitions([upstream, downstream])
    materialize(defs)
    result = materialize(defs, selection="downstream")
    assert calls == ["upstream"]
    assert [e.step_key for e in result.events if isinstance(e, StepStarted)] == ["downstream"]
    assert result.output_for("downstream") == 30


def test_missing_upstream_in_storage_names_the_asset() -> None:
    @asset
    def never_built() -> int:
        return 1

    @asset
    def needs_it(never_built: int) -> int:
        return never_built

    result = materialize([never_built, needs_it], selection="needs_it", raise_on_error=False)
    message = result.failed_steps[0].error.message
    assert "never_built" in message and "materialize" in message


def test_failed_write_records_no_materialization() -> None:
    class Unpicklable:
        def __reduce__(self) -> Any:
            raise TypeError("cannot serialise this")

    @asset
    def odd_value() -> Any:
        return Unpicklable()

    result = materialize([odd_value], raise_on_error=False)
    assert result.materializations == []
    assert "cannot serialise this" in result.failed_steps[0].error.message
    assert not any(isinstance(e, AssetMaterialized) for e in result.events)
    assert isinstance(result.events[-1], RunFailed)


def test_failed_step_stops_nothing_half_written(raystra_home: Path) -> None:
    @asset
    def table() -> pa.Table:
        return pa.table({"x": [1]})

    materialize([table])
    before = sorted(p.name for p in (raystra_home / "storage").iterdir())

    @asset(name="table")
    def table_v2() -> pa.Table:
        raise RuntimeError("compute failed")

    materialize([table_v2], raise_on_error=False)
    assert sorted(p.name for p in (raystra_home / "storage").iterdir()) == before


def test_user_metadata_cannot_silently_replace_io_manager_facts() -> None:
    @asset
    def table(context: AssetExecutionContext) -> pa.Table:
        context.add_output_metadata({"path": "/not/where/it/is", "owner": "sales"})
        return pa.table({"x": [1, 2]})

    result = materialize([table])
    (mat,) = result.materializations
    assert mat.metadata["path"].endswith("table.parquet")
    assert mat.metadata["user/path"] == "/not/where/it/is"
    assert mat.metadata["owner"] == "sales"
    warnings = [e.message for e in result.events if isinstance(e, LogMessage)]
    assert any("metadata key 'path' is set by the IO manager" in w for w in warnings)


def test_build_asset_context_lets_assets_be_called_directly() -> None:
    from raystra import build_asset_context

    @asset
    def logged(context: AssetExecutionContext, source: list[int]) -> int:
        context.log.info("summing")
        return sum(source) + len(context.asset_key.path)

    assert logged(build_asset_context(asset_key="logged"), [1, 2]) == 4


def test_step_started_is_delivered_before_the_step_runs() -> None:
    seen_before_compute: list[str] = []
    delivered: list[str] = []

    @asset
    def watched() -> int:
        seen_before_compute.extend(delivered)
        return 1

    materialize([watched], on_event=lambda e: delivered.append(e.kind))
    assert seen_before_compute == ["RunStarted", "StepStarted"]
