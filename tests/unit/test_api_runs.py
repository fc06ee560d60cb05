"""Runs as recorded in storage: status, batching, re-execution, resources and secrets."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from raystra import (
    AssetExecutionContext,
    ConfigurableResource,
    Definitions,
    EnvVar,
    Out,
    asset,
    execute_job,
    job,
    materialize,
    op,
    reexecute,
)
from raystra.errors import InvalidDefinitionError, RaystraError
from raystra.events import Event, RunStatus, StepStarted
from raystra.observability import ObserverGroup, RunObserver
from raystra.storage import open_storage
from raystra.storage.sql import SqlRunStorage


class CountingStorage(SqlRunStorage):
    """A real SQLite storage that counts how many transactions stored events."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.batches: list[int] = []

    def store_events(self, events: Any) -> None:
        self.batches.append(len(events))
        super().store_events(events)


def test_events_are_written_in_batches_not_one_transaction_each(tmp_path: Path) -> None:
    assets = []
    for i in range(40):

        @asset(name=f"a{i}")
        def node(context: AssetExecutionContext) -> int:
            context.log.info("working")
            return 1

        assets.append(node)
    storage = CountingStorage(f"sqlite:///{tmp_path}/runs.db")
    result = materialize(assets, storage=storage)
    assert len(result.events) == 2 + 40 * 4  # run start/end; started, log, materialized, done
    assert sum(storage.batches) == len(result.events)
    assert len(storage.batches) <= 3
    stored = storage.get_events(result.run_id)
    assert [s.event for s in stored] == result.events


class StorageFirstObserver(RunObserver):
    """Checks, for every event it is handed, that run storage already holds it."""

    def __init__(self, storage: SqlRunStorage) -> None:
        self.storage = storage
        self.kinds: list[str] = []
        self.missing_from_storage: list[str] = []
        self.finished_after: int | None = None

    def observe(self, event: Event) -> None:
        self.kinds.append(event.kind)
        stored = [s.event for s in self.storage.get_events(event.run_id)]
        if event.stored and event not in stored:
            self.missing_from_storage.append(event.kind)

    def run_finished(self, status: RunStatus) -> None:
        self.finished_after = len(self.kinds)


def test_observers_get_every_event_in_order_once_stored_then_the_run_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = CountingStorage(f"sqlite:///{tmp_path}/runs.db")
    observer = StorageFirstObserver(storage)
    monkeypatch.setattr(
        "raystra.api._launch.configured_observers", lambda: ObserverGroup([observer])
    )

    @asset
    def orders() -> int:
        return 1

    @asset
    def revenue(orders: int) -> int:
        return orders + 1

    result = materialize([orders, revenue], storage=storage)
    assert observer.kinds == [event.kind for event in result.events]
    assert observer.missing_from_storage == []
    assert observer.finished_after == len(result.events)  # nothing reached it after the end


def test_run_record_and_step_stats_are_derived_from_events() -> None:
    @asset
    def ok() -> int:
        return 1

    @asset
    def bad(ok: int) -> int:
        raise KeyError("missing column")

    result = materialize([ok, bad], raise_on_error=False)
    storage = open_storage()
    run = storage.get_run(result.run_id[:8])
    assert run.run_id == result.run_id
    assert run.status is RunStatus.FAILURE
    assert run.selection == ("ok", "bad")
    assert run.started_at is not None and run.ended_at is not None
    stats = {s.step_key: s for s in storage.get_step_stats(result.run_id)}
    assert stats["ok"].status == "SUCCESS"
    assert stats["bad"].status == "FAILURE"
    assert stats["bad"].error is not None and "missing column" in stats["bad"].error.message
    latest = storage.latest_materializations()
    assert [k.to_user_string() for k in latest] == ["ok"]


def test_reexecute_from_failure_runs_only_failed_and_skipped_steps(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    runs: list[str] = []

    @asset
    def extract() -> list[int]:
        runs.append("extract")
        return [1, 2, 3]

    @asset
    def transform(extract: list[int]) -> list[int]:
        runs.append("transform")
        if not flag.exists():
            raise RuntimeError("bug in transform")
        return [x * 10 for x in extract]

    @asset
    def load(transform: list[int]) -> int:
        runs.append("load")
        return sum(transform)

    @asset
    def side(extract: list[int]) -> int:
        runs.append("side")
        return len(extract)

    defs = Definitions([extract, transform, load, side])
    first = materialize(defs, raise_on_error=False)
    assert not first.success and runs == ["extract", "side", "transform"]

    flag.touch()
    runs.clear()
    second = reexecute(defs, first.run_id[:8], from_failure=True)
    assert second.success
    assert runs == ["transform", "load"]  # extract and side come from storage
    started = [e.step_key for e in second.events if isinstance(e, StepStarted)]
    assert started == ["transform", "load"]
    assert second.output_for("load") == 60
    record = open_storage().get_run(second.run_id)
    assert record.parent_run_id == first.run_id and record.root_run_id == first.run_id

    with pytest.raises(RaystraError, match="no failed or skipped steps"):
        reexecute(defs, second.run_id, from_failure=True)
    runs.clear()
    again = reexecute(defs, second.run_id, from_failure=False)
    assert again.success and runs == ["transform", "load"]


def test_reexecute_job_loads_op_outputs_from_the_run_that_stored_them(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"

    @op(out={"train": Out(), "test": Out()})
    def split_rows() -> tuple[list[int], list[int]]:
        return [1, 2, 3], [4]

    @op
    def fit(train: list[int]) -> float:
        if not flag.exists():
            raise RuntimeError("diverged")
        return sum(train) / len(train)

    @op
    def score(model: float, test: list[int]) -> float:
        return model * test[0]

    @job
    def training():
        train, test = split_rows()
        score(fit(train), test)

    defs = Definitions(jobs=[training])
    first = execute_job(defs, "training", raise_on_error=False)
    assert not first.success
    flag.touch()
    second = reexecute(defs, first.run_id)
    assert second.success, second.failed_steps
    assert [e.step_key for e in second.events if isinstance(e, StepStarted)] == ["fit", "score"]
    assert second.output_for("score") == 8.0


class ApiClient(ConfigurableResource):
    base_url: str
    token: str

    def auth_header(self) -> str:
        return f"Bearer {self.token}"


def test_env_var_secret_is_resolved_in_the_step_and_never_recorded(
    raystra_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "tok-" + secrets.token_hex(12)
    monkeypatch.setenv("RAYSTRA_TEST_API_TOKEN", token)
    seen: list[str] = []

    @asset
    def pull(context: AssetExecutionContext, api: ApiClient) -> dict[str, str]:
        seen.append(api.token)
        context.log.info("calling %s with %s", api.base_url, api.auth_header())
        print(f"token is {api.token}")
        return {"status": "ok"}

    @asset
    def leak_in_error(api: ApiClient) -> int:
        raise PermissionError(f"server rejected {api.token}")

    defs = Definitions(
        [pull, leak_in_error],
        resources={
            "api": ApiClient(base_url="https://api.example", token=EnvVar("RAYSTRA_TEST_API_TOKEN"))
        },
    )
    assert defs.resources["api"].token == "RAYSTRA_TEST_API_TOKEN"  # unresolved until run time
    result = materialize(defs, raise_on_error=False)
    assert seen == [token]  # the step saw the real value
    rendered = "\n".join(repr(e) for e in result.events)
    assert token not in rendered
    assert "Bearer ***" in rendered and "token is ***" in rendered
    assert "server rejected ***" in rendered
    for path in raystra_home.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_missing_env_var_names_resource_field_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAYSTRA_TEST_UNSET", raising=False)

    @asset
    def pull(api: ApiClient) -> int:
        return 1

    defs = Definitions(
        [pull], resources={"api": ApiClient(base_url="u", token=EnvVar("RAYSTRA_TEST_UNSET"))}
    )
    result = materialize(defs, raise_on_error=False)
    message = result.failed_steps[0].error.message
    assert "Resource 'api' field 'token'" in message and "RAYSTRA_TEST_UNSET" in message


def test_env_var_on_a_non_string_field_is_refused() -> None:
    class Pool(ConfigurableResource):
        size: int

    with pytest.raises(InvalidDefinitionError, match="EnvVar works for str fields"):
        Pool(size=EnvVar("POOL_SIZE"))  # type: ignore[arg-type]


def test_run_never_stays_in_progress_when_interrupted() -> None:
    @asset
    def interrupted() -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        materialize([interrupted])
    (run,) = open_storage().get_runs()
    assert run.status is RunStatus.CANCELED
    assert run.ended_at is not None


def test_events_list_is_the_stored_history() -> None:
    @asset
    def one() -> int:
        return 1

    result = materialize([one])
    stored: list[Event] = [s.event for s in open_storage().get_events(result.run_id)]
    assert stored == result.events
    assert os.environ["RAYSTRA_HOME"]
