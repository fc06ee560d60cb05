"""Dask DataFrames as asset values: written and read by Dask itself, computed on Ray."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import raystra
from raystra import Definitions, StaticPartitionsDefinition, asset, materialize
from raystra.events import AssetMaterialized

dd = pytest.importorskip("dask.dataframe")

from raystra_dask import DaskResource  # noqa: E402  (after the importorskip)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("on_ray"),
    # Dask's own Parquet writer, under pandas 3.
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index"),
]

# Steps run in Ray workers, which keep the environment they started with but share files:
# a flag file tells a step what to do.
FLAG = Path(tempfile.gettempdir()) / f"raystra-test-dask-{os.getuid()}"


@pytest.fixture(autouse=True)
def _clear_flag() -> None:
    FLAG.unlink(missing_ok=True)


def _flag() -> str:
    return FLAG.read_text() if FLAG.exists() else ""


def _ray_task_id() -> str | None:
    import ray

    return ray.get_runtime_context().get_task_id()


@asset
def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {"customer": ["ann", "bob", "ann", "cy", "bob", "ann"], "amount": [1, 2, 3, 4, 5, 6]}
    )


@asset
def order_totals(orders: pd.DataFrame) -> dd.DataFrame:
    frame = dd.from_pandas(orders, npartitions=3)
    return frame.groupby("customer").amount.sum().reset_index()


@asset
def totals_report(order_totals: pa.Table) -> pa.Table:
    return order_totals.sort_by("customer")


def _materialized(event: object, key: str) -> bool:
    return isinstance(event, AssetMaterialized) and event.asset_key.to_user_string() == key


def _stored(home: Path, *parts: str) -> Path:
    return home.joinpath("storage", *parts)


def test_pandas_to_dask_to_pyarrow(raystra_home: Path) -> None:
    defs = Definitions([orders, order_totals, totals_report])

    result = materialize(defs)

    report = raystra.load_asset_value(defs, "totals_report")
    assert report.to_pydict() == {"customer": ["ann", "bob", "cy"], "amount": [10, 7, 4]}
    # Dask wrote a directory of Parquet files, marked as its own.
    stored = _stored(raystra_home, "order_totals.parquet")
    assert (stored / "_raystra_engine").read_text() == "dask"
    assert list(stored.glob("*.parquet"))
    [event] = [e for e in result.events if _materialized(e, "order_totals")]
    assert event.metadata["engine"] == "dask"
    assert event.metadata["row_count"] == 3
    # The schema comes from the frame's meta, before anything ran: it matches what was written.
    written = pq.read_table(stored).schema
    assert event.metadata["schema"] == [{"name": f.name, "type": str(f.type)} for f in written]
    # Loaded without an annotation: the engine that wrote it reads it back, lazily.
    loaded = raystra.load_asset_value(defs, "order_totals")
    assert isinstance(loaded, dd.DataFrame)
    assert loaded.compute().sort_values("customer")["amount"].tolist() == [10, 7, 4]


@asset
def raw_events() -> pa.Table:
    return pa.table({"user": ["u1", "u2", "u1", "u3"], "clicks": [3, 1, 4, 1]})


@asset
def clicks_by_user(raw_events: dd.DataFrame) -> dd.DataFrame:
    assert isinstance(raw_events, dd.DataFrame)  # lazy: read by Dask, not by the IO manager
    return raw_events.groupby("user").clicks.sum().reset_index()


def test_dask_input_reads_a_table_written_by_pyarrow(raystra_home: Path) -> None:
    defs = Definitions([raw_events, clicks_by_user])
    materialize(defs, "raw_events")
    assert _stored(raystra_home, "raw_events.parquet").is_file()

    materialize(defs, "clicks_by_user")  # raw_events is loaded from storage

    table = pq.read_table(_stored(raystra_home, "clicks_by_user.parquet")).sort_by("user")
    assert table.to_pydict() == {"user": ["u1", "u2", "u3"], "clicks": [7, 1, 1]}


@asset
def where_dask_ran(dask: DaskResource) -> dd.DataFrame:
    step_task = _ray_task_id()
    frame = dd.from_pandas(pd.DataFrame({"n": range(8)}), npartitions=4)
    # Each Dask partition records the Ray task that computed it.
    ran = frame.map_partitions(lambda part: part.assign(task=_ray_task_id(), pid=os.getpid()))
    counted = ran.task.nunique().compute()  # the user's own compute, inside the step
    return ran.assign(step_task=step_task, scheduler=dask.active_scheduler, counted=counted)


def test_dask_work_inside_a_ray_step_runs_as_ray_tasks(raystra_home: Path) -> None:
    defs = Definitions([where_dask_ran], resources={"dask": DaskResource()})

    result = materialize(defs, executor="ray")

    table = pq.read_table(_stored(raystra_home, "where_dask_ran.parquet")).to_pandas()
    assert sorted(table["n"]) == list(range(8))
    assert set(table["scheduler"]) == {"ray"}
    # Every partition ran in a Ray task of its own, not in the step's task (threads would).
    assert table["task"].notna().all()
    assert table["task"].nunique() >= 4
    assert not set(table["task"]) & set(table["step_task"])
    assert set(table["counted"]) == {4}  # the .compute() in the step ran on Ray too
    [event] = [e for e in result.events if _materialized(e, "where_dask_ran")]
    assert event.metadata["dask_scheduler"] == "ray"


def test_in_process_without_ray_uses_dask_threads(tmp_path: Path) -> None:
    # This session's Ray is up in the test process; a fresh interpreter shows the fallback.
    script = textwrap.dedent(
        """
        import sys
        import dask.dataframe as dd
        import pandas as pd
        from raystra import asset, materialize
        from raystra.events import AssetMaterialized

        @asset
        def numbers() -> dd.DataFrame:
            return dd.from_pandas(pd.DataFrame({"n": [1, 2, 3]}), npartitions=2)

        result = materialize([numbers], executor="in_process")
        [event] = [e for e in result.events if isinstance(e, AssetMaterialized)]
        print(event.metadata["dask_scheduler"], event.metadata["row_count"], "ray" in sys.modules)
        """
    )
    env = {**os.environ, "RAYSTRA_HOME": str(tmp_path / "home")}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["threads", "3", "False"]


LETTERS = StaticPartitionsDefinition(["a", "b", "c"])


@asset(partitions_def=LETTERS)
def letters(context: raystra.AssetExecutionContext) -> dd.DataFrame:
    version = _flag() or "v1"
    frame = pd.DataFrame({"letter": [context.partition_key] * 2, "version": [version] * 2})
    return dd.from_pandas(frame, npartitions=2)


def test_rewriting_one_partition_leaves_the_others(raystra_home: Path) -> None:
    defs = Definitions([letters])
    materialize(defs, partition_range="a...c")
    FLAG.write_text("v2")

    materialize(defs, partition_key="b")

    stored = _stored(raystra_home, "letters")
    table = pq.read_table(stored, partitioning="hive").to_pandas()
    versions = {
        str(key): set(rows) for key, rows in table.groupby("partition", observed=True)["version"]
    }
    assert versions == {"a": {"v1"}, "b": {"v2"}, "c": {"v1"}}
    assert len(table) == 6
    assert not [p for p in stored.rglob("_*") if p.name != "_raystra_engine"]  # no temp left


@asset
def fragile() -> dd.DataFrame:
    fail = _flag() == "fail"

    def check(part: pd.DataFrame) -> pd.DataFrame:
        if fail and part["n"].min() >= 2:  # one partition fails after others were written
            raise ValueError("bad partition")
        return part

    frame = dd.from_pandas(pd.DataFrame({"n": [0, 1, 2, 3]}), npartitions=2)
    return frame.map_partitions(check).assign(run=_flag() or "first")


def test_failed_dask_write_keeps_the_previous_value(raystra_home: Path) -> None:
    defs = Definitions([fragile])
    materialize(defs)
    FLAG.write_text("fail")

    result = materialize(defs, raise_on_error=False)

    assert not result.success
    assert "bad partition" in str(result.failed_steps[0].error)
    previous = raystra.load_asset_value(defs, "fragile").compute()
    assert sorted(previous["n"]) == [0, 1, 2, 3]
    assert set(previous["run"]) == {"first"}
    assert [p.name for p in _stored(raystra_home).iterdir()] == ["fragile.parquet"]


# --- Inputs reading several partitions: one Dask DataFrame, read by Dask from the stored files ---


@asset
def letters_summary(letters: dd.DataFrame) -> pd.DataFrame:  # unpartitioned: every letter
    assert isinstance(letters, dd.DataFrame)
    assert isinstance(letters.dtypes["partition"], pd.CategoricalDtype)  # as Dask reads Hive
    frame = letters.compute()  # computed on Ray's scheduler: nothing was read before
    rows = frame.groupby("partition", observed=True).size()
    return pd.DataFrame({"letter": rows.index.astype(str), "rows": rows.to_numpy()})


@asset
def letters_by_key(letters: dict[str, dd.DataFrame]) -> pd.DataFrame:
    assert all(isinstance(frame, dd.DataFrame) for frame in letters.values())
    return pd.DataFrame(
        {"letter": list(letters), "columns": [",".join(f.columns) for f in letters.values()]}
    )


def test_several_partitions_arrive_as_one_dask_dataframe(raystra_home: Path) -> None:
    defs = Definitions([letters, letters_summary, letters_by_key])

    materialize(defs, partition_range="a...c")

    summary = raystra.load_asset_value(defs, "letters_summary")
    assert summary.sort_values("letter").to_dict("list") == {
        "letter": ["a", "b", "c"],
        "rows": [2, 2, 2],
    }
    by_key = raystra.load_asset_value(defs, "letters_by_key")
    assert by_key.to_dict("list") == {
        "letter": ["a", "b", "c"],
        "columns": ["letter,version"] * 3,
    }


@asset(partitions_def=LETTERS)
def scores(context: raystra.AssetExecutionContext) -> pd.DataFrame:  # one pyarrow file each
    return pd.DataFrame({"score": [ord(context.partition_key)] * 3})


@asset
def score_totals(scores: dd.DataFrame) -> dd.DataFrame:
    by_letter = scores.assign(letter=scores["partition"].astype(str))
    return by_letter.groupby("letter").score.sum().reset_index()


def test_partitions_written_by_pyarrow_arrive_as_one_dask_dataframe(raystra_home: Path) -> None:
    defs = Definitions([scores, score_totals])
    materialize(defs, "scores", partition_key="a")

    # "a" is read from storage; "b" and "c" are built by this run.
    materialize(defs, partition_range="b...c")

    table = pq.read_table(_stored(raystra_home, "score_totals.parquet")).sort_by("letter")
    assert table.to_pydict() == {"letter": ["a", "b", "c"], "score": [291, 294, 297]}
