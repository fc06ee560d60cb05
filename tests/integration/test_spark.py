"""Spark assets against a real Spark Connect server (one per session, see conftest)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from raystra import (
    AssetExecutionContext,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    StaticPartitionsDefinition,
    asset,
    materialize,
)
from raystra.events import AssetMaterialized, OutputSchemaChecked, StepFailed, StepStarted

ps = pytest.importorskip("pyspark.sql")

from raystra_spark import JavaNotFoundError, SparkResource  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


@asset
def orders() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3, 4], "amount": [5.0, 150.0, 300.0, 20.0]})


@asset
def big_orders(spark: SparkResource, orders: ps.DataFrame) -> ps.DataFrame:
    assert isinstance(orders, ps.DataFrame)
    return orders.where("amount > 100").withColumn("pid", ps.functions.lit(os.getpid()))


@asset
def big_total(big_orders: pa.Table) -> pa.Table:
    assert isinstance(big_orders, pa.Table)
    return pa.table({"total": [sum(big_orders.column("amount").to_pylist())]})


def _materialized(events: list[object]) -> dict[str, AssetMaterialized]:
    return {e.asset_key.to_user_string(): e for e in events if isinstance(e, AssetMaterialized)}


def _read(path: str) -> pd.DataFrame:
    return ds.dataset(path, format="parquet").to_table().to_pandas()


def _pandas_spark_pyarrow(spark_remote: str) -> tuple[dict[str, AssetMaterialized], int]:
    result = materialize(
        [orders, big_orders, big_total], resources={"spark": SparkResource(remote=spark_remote)}
    )
    done = _materialized(result.events)
    assert done["big_orders"].metadata["engine"] == "spark"
    assert done["big_orders"].metadata["row_count"] == 2
    stored = _read(done["big_orders"].metadata["path"]).sort_values("id")
    assert stored["id"].tolist() == [2, 3]
    assert stored["amount"].tolist() == [150.0, 300.0]
    assert pa.parquet.read_table(done["big_total"].metadata["path"]).to_pylist() == [
        {"total": 450.0}
    ]
    return done, int(stored["pid"].iloc[0])


def test_pandas_to_spark_to_pyarrow_in_process(spark_remote: str) -> None:
    _, pid = _pandas_spark_pyarrow(spark_remote)
    assert pid == os.getpid()


@pytest.mark.usefixtures("on_ray")
def test_spark_step_runs_in_a_ray_worker(spark_remote: str) -> None:
    result = materialize(
        [orders, big_orders, big_total], resources={"spark": SparkResource(remote=spark_remote)}
    )
    started = {e.step_key: e.pid for e in result.events if isinstance(e, StepStarted)}
    assert started["big_orders"] != os.getpid()
    done = _materialized(result.events)
    stored = _read(done["big_orders"].metadata["path"])
    assert sorted(stored["id"]) == [2, 3]
    assert set(stored["pid"]) == {started["big_orders"]}
    assert pa.parquet.read_table(done["big_total"].metadata["path"])["total"].to_pylist() == [450.0]


@asset
def prices() -> pa.Table:
    return pa.table({"sku": ["a", "b", "c"], "price": [1.5, 2.5, 4.0]})


@asset
def priced(prices: ps.DataFrame) -> ps.DataFrame:  # no SparkResource: the embedded default
    assert isinstance(prices, ps.DataFrame)
    return prices.selectExpr("sku", "price * 2 AS doubled")


def test_spark_input_reads_upstream_written_by_pyarrow(spark_remote: str) -> None:
    materialize([prices])
    result = materialize([prices, priced], selection="priced")  # prices loaded from storage
    stored = _read(_materialized(result.events)["priced"].metadata["path"]).sort_values("sku")
    assert stored.to_dict("list") == {"sku": ["a", "b", "c"], "doubled": [3.0, 5.0, 8.0]}


regions = StaticPartitionsDefinition(["eu", "us", "apac"])


@asset(partitions_def=regions)
def sales(context: AssetExecutionContext, spark: SparkResource) -> ps.DataFrame:
    version = os.environ.get("SALES_VERSION", "1")
    session = spark.get_session()
    return session.sql(f"SELECT '{context.partition_key}' AS region, {version} AS version")


def _partitions(home: Path, asset_name: str) -> dict[str, int]:
    table = ds.dataset(
        str(home / "storage" / asset_name), format="parquet", partitioning="hive"
    ).to_table()
    return dict(zip(table["partition"].to_pylist(), table["version"].to_pylist(), strict=True))


def test_rewriting_one_partition_leaves_the_others(
    spark_remote: str, raystra_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = {"spark": SparkResource(remote=spark_remote)}
    for key in ("eu", "us", "apac"):
        materialize([sales], resources=resources, partition_key=key)
    assert _partitions(raystra_home, "sales") == {"eu": 1, "us": 1, "apac": 1}
    monkeypatch.setenv("SALES_VERSION", "2")
    materialize([sales], resources=resources, partition_key="us")
    assert _partitions(raystra_home, "sales") == {"eu": 1, "us": 2, "apac": 1}
    # Nothing half-written or temporary is left beside the partitions.
    assert sorted(p.name for p in (raystra_home / "storage" / "sales").iterdir()) == [
        "partition=apac",
        "partition=eu",
        "partition=us",
    ]


daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")


@asset(partitions_def=daily, backfill_policy=BackfillPolicy.single_run())
def visits(context: AssetExecutionContext, spark: SparkResource) -> dict[str, ps.DataFrame]:
    session = spark.get_session()
    return {key: session.sql(f"SELECT '{key}' AS day, 7 AS n") for key in context.partition_keys}


def test_range_step_writes_each_partition(spark_remote: str, raystra_home: Path) -> None:
    result = materialize(
        [visits],
        resources={"spark": SparkResource(remote=spark_remote)},
        partition_range="2024-01-01...2024-01-03",
    )
    partitions = {e.partition for e in result.events if isinstance(e, AssetMaterialized)}
    assert partitions == {"2024-01-01", "2024-01-02", "2024-01-03"}
    assert _partitions_days(raystra_home) == {"2024-01-01", "2024-01-02", "2024-01-03"}


def _partitions_days(home: Path) -> set[str]:
    table = ds.dataset(str(home / "storage" / "visits"), format="parquet", partitioning="hive")
    return set(table.to_table()["day"].to_pylist())


@asset
def needs_spark(spark: SparkResource) -> ps.DataFrame:
    return spark.get_session().range(3)


def test_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYSTRA_SPARK_DIR", str(tmp_path / "no_server"))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no_jdk"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = materialize([needs_spark], resources={"spark": SparkResource()}, raise_on_error=False)
    failed = [e for e in result.events if isinstance(e, StepFailed)]
    assert len(failed) == 1
    message = str(failed[0].error)
    assert "needs Java" in message and "JAVA_HOME" in message and "remote=" in message
    with pytest.raises(JavaNotFoundError, match="no_jdk"):
        SparkResource().get_session()


# --- A range step returning one Spark DataFrame: one partitionBy write, dynamic overwrite ---


def _version() -> int:
    return int(os.environ.get("DAYS_VERSION", "1"))


@asset(partitions_def=daily, backfill_policy=BackfillPolicy.single_run())
def days(context: AssetExecutionContext, spark: SparkResource) -> ps.DataFrame:
    """Two rows per day of the step's range, with the `partition` column naming the day."""
    keys = ", ".join(f"('{key}')" for key in context.partition_keys)
    extra = os.environ.get("DAYS_EXTRA_ROW", "")  # a row for a day outside the range
    rows = f"SELECT * FROM VALUES {keys} AS t(partition)"
    if extra:
        rows += f" UNION ALL SELECT '{extra}'"
    fail = os.environ.get("DAYS_FAIL") == "1"
    # Fails in the executors, after some rows were written: a runtime error, not a plan error.
    value = "if(n = 2, raise_error('boom: executor failed mid-write'), 1)" if fail else _version()
    return spark.get_session().sql(
        f"SELECT partition, n, {value} AS version "
        f"FROM ({rows}) CROSS JOIN (SELECT explode(array(1, 2)) AS n)"
    )


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder``: (inode, mtime) by relative path."""
    return {
        str(path.relative_to(folder)): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


def _by_day(home: Path) -> dict[str, set[int]]:
    table = ds.dataset(
        str(home / "storage" / "days"), format="parquet", partitioning="hive"
    ).to_table()
    found: dict[str, set[int]] = {}
    for day, version in zip(
        table["partition"].to_pylist(), table["version"].to_pylist(), strict=True
    ):
        found.setdefault(str(day), set()).add(version)
    return found


def test_one_frame_for_a_range_is_stored_per_partition(
    spark_remote: str, raystra_home: Path
) -> None:
    result = materialize(
        [days],
        resources={"spark": SparkResource(remote=spark_remote)},
        partition_range="2024-01-01...2024-01-03",
    )

    events = {e.partition: e for e in result.events if isinstance(e, AssetMaterialized)}
    assert set(events) == {"2024-01-01", "2024-01-02", "2024-01-03"}
    folder = raystra_home / "storage" / "days"
    for day, event in events.items():
        stored = folder / f"partition={day}" / "data.parquet"
        assert event.metadata["path"] == str(stored)
        assert event.metadata["engine"] == "spark"
        assert event.metadata["row_count"] == 2
        assert [f["name"] for f in event.metadata["schema"]] == ["n", "version"]
        assert (stored / "_raystra_engine").read_text() == "spark"
        # Spark wrote the files; the partition is the directory name, not a column in them.
        [part] = stored.glob("part-*.parquet")
        assert pa.parquet.read_schema(part).names == ["n", "version"]
    assert _by_day(raystra_home) == {"2024-01-01": {1}, "2024-01-02": {1}, "2024-01-03": {1}}
    # No staging directory or moved-aside value is left anywhere.
    assert not [p for p in (raystra_home / "storage").rglob("*") if ".tmp-" in p.name]


def test_rewriting_part_of_the_range_leaves_other_partitions_untouched(
    spark_remote: str, raystra_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = {"spark": SparkResource(remote=spark_remote)}
    materialize([days], resources=resources, partition_range="2024-01-01...2024-01-03")
    folder = raystra_home / "storage" / "days"
    first_day = _snapshot(folder / "partition=2024-01-01")

    monkeypatch.setenv("DAYS_VERSION", "2")
    materialize([days], resources=resources, partition_range="2024-01-02...2024-01-03")
    assert _snapshot(folder / "partition=2024-01-01") == first_day  # same files, not rewritten
    assert _by_day(raystra_home) == {"2024-01-01": {1}, "2024-01-02": {2}, "2024-01-03": {2}}

    # A scheduled run of one partition: the same frame, with its partition column.
    monkeypatch.setenv("DAYS_VERSION", "3")
    result = materialize([days], resources=resources, partition_key="2024-01-03")
    assert [e.partition for e in result.events if isinstance(e, AssetMaterialized)] == [
        "2024-01-03"
    ]
    assert _snapshot(folder / "partition=2024-01-01") == first_day
    assert _by_day(raystra_home) == {"2024-01-01": {1}, "2024-01-02": {2}, "2024-01-03": {3}}
    assert sorted(p.name for p in folder.iterdir()) == [
        "partition=2024-01-01",
        "partition=2024-01-02",
        "partition=2024-01-03",
    ]


def test_rows_outside_the_range_fail_the_step_and_change_nothing(
    spark_remote: str, raystra_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = {"spark": SparkResource(remote=spark_remote)}
    materialize([days], resources=resources, partition_range="2024-01-01...2024-01-03")
    storage = raystra_home / "storage"
    before = _snapshot(storage)

    monkeypatch.setenv("DAYS_VERSION", "2")
    monkeypatch.setenv("DAYS_EXTRA_ROW", "2024-02-30")
    result = materialize(
        [days],
        resources=resources,
        partition_range="2024-01-01...2024-01-02",
        raise_on_error=False,
    )

    [failed] = [e for e in result.events if isinstance(e, StepFailed)]
    message = str(failed.error)
    assert "Asset 'days'" in message
    assert "column 'partition'" in message
    assert "'2024-02-30'" in message
    assert "Nothing was stored" in message
    assert not [e for e in result.events if isinstance(e, AssetMaterialized)]
    assert _snapshot(storage) == before  # no partition replaced, no staging left behind
    assert _by_day(raystra_home) == {"2024-01-01": {1}, "2024-01-02": {1}, "2024-01-03": {1}}


def test_a_failed_spark_write_keeps_every_committed_partition(
    spark_remote: str, raystra_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = {"spark": SparkResource(remote=spark_remote)}
    materialize([days], resources=resources, partition_range="2024-01-01...2024-01-03")
    storage = raystra_home / "storage"
    before = _snapshot(storage)

    monkeypatch.setenv("DAYS_FAIL", "1")
    result = materialize(
        [days], resources=resources, partition_range="2024-01-01...2024-01-03", raise_on_error=False
    )

    assert not result.success
    assert "boom: executor failed mid-write" in str(result.failed_steps[0].error)
    assert _snapshot(storage) == before
    assert _by_day(raystra_home) == {"2024-01-01": {1}, "2024-01-02": {1}, "2024-01-03": {1}}


def test_a_frame_without_the_partition_column_is_a_clear_error(spark_remote: str) -> None:
    @asset(name="days", partitions_def=daily, backfill_policy=BackfillPolicy.single_run())
    def days_without_column(spark: SparkResource) -> ps.DataFrame:
        return spark.get_session().sql("SELECT 1 AS n")

    result = materialize(
        [days_without_column],
        resources={"spark": SparkResource(remote=spark_remote)},
        partition_range="2024-01-01...2024-01-02",
        raise_on_error=False,
    )
    message = str(result.failed_steps[0].error)
    assert "Asset 'days'" in message and "['partition']" in message and "['n']" in message


# --- Inputs reading several partitions: one DataFrame, read by Spark from the stored paths ---


@asset
def days_summary(days: ps.DataFrame) -> pa.Table:  # unpartitioned: reads every day
    assert isinstance(days, ps.DataFrame)
    # Spark lists exactly the partitions' stored files.
    files = days.inputFiles()
    assert files and all("/days/partition=2024-01-0" in f and "data.parquet" in f for f in files)
    rows = days.groupBy("partition").agg(ps.functions.sum("n").alias("n")).collect()
    return pa.table(
        {
            "day": [str(r["partition"]) for r in rows],
            "type": [type(r["partition"]).__name__ for r in rows],
            "n": [r["n"] for r in rows],
        }
    ).sort_by("day")


@asset
def days_by_key(days: dict[str, ps.DataFrame]) -> pa.Table:
    assert all(isinstance(frame, ps.DataFrame) for frame in days.values())
    return pa.table(
        {"day": list(days), "columns": [",".join(frame.columns) for frame in days.values()]}
    )


def test_several_partitions_arrive_as_one_spark_dataframe(
    spark_remote: str, raystra_home: Path
) -> None:
    result = materialize(
        [days, days_summary, days_by_key],
        resources={"spark": SparkResource(remote=spark_remote)},
        partition_range="2024-01-01...2024-01-03",
    )

    done = _materialized(result.events)
    summary = pa.parquet.read_table(done["days_summary"].metadata["path"]).to_pydict()
    # Spark typed the partition column as it does for any Hive-partitioned dataset.
    assert summary == {
        "day": ["2024-01-01", "2024-01-02", "2024-01-03"],
        "type": ["date", "date", "date"],
        "n": [3, 3, 3],
    }
    by_key = pa.parquet.read_table(done["days_by_key"].metadata["path"]).to_pydict()
    assert by_key == {
        "day": ["2024-01-01", "2024-01-02", "2024-01-03"],
        "columns": ["n,version", "n,version", "n,version"],
    }


@asset(partitions_def=daily)
def readings(context: AssetExecutionContext) -> pd.DataFrame:  # pandas, one file per day
    return pd.DataFrame({"sensor": ["a", "b"], "value": [int(context.partition_key[-1])] * 2})


@asset
def readings_total(spark: SparkResource, readings: ps.DataFrame) -> ps.DataFrame:
    assert isinstance(readings, ps.DataFrame)
    return readings.groupBy("partition").agg(ps.functions.sum("value").alias("total"))


@pytest.mark.usefixtures("on_ray")
def test_partitions_written_by_pyarrow_arrive_as_one_spark_dataframe_on_ray(
    spark_remote: str, raystra_home: Path
) -> None:
    defs = Definitions(
        [readings, readings_total], resources={"spark": SparkResource(remote=spark_remote)}
    )
    materialize(defs, selection="readings", partition_key="2024-01-01")

    # 2024-01-01 is loaded from storage, the other days are built by this run.
    result = materialize(defs, partition_range="2024-01-02...2024-01-03")

    stored = _read(_materialized(result.events)["readings_total"].metadata["path"])
    totals = dict(zip(stored["partition"].astype(str), stored["total"], strict=True))
    assert totals == {"2024-01-01": 2, "2024-01-02": 4, "2024-01-03": 6}


@asset(
    partitions_def=daily,
    backfill_policy=BackfillPolicy.single_run(),
    output_schema=pa.schema([("n", pa.int32()), ("version", pa.int32())]),
)
def checked_days(context: AssetExecutionContext, spark: SparkResource) -> ps.DataFrame:
    keys = ", ".join(f"('{key}')" for key in context.partition_keys)
    return spark.get_session().sql(
        f"SELECT partition, 1 AS n, 1 AS version FROM VALUES {keys} AS t(partition)"
    )


@pytest.mark.usefixtures("on_ray")
def test_a_range_frame_is_checked_against_its_schema_without_the_partition_column_on_ray(
    spark_remote: str, raystra_home: Path
) -> None:
    result = materialize(
        [checked_days],
        resources={"spark": SparkResource(remote=spark_remote)},
        partition_range="2024-01-01...2024-01-03",
    )

    [check] = [e for e in result.events if isinstance(e, OutputSchemaChecked)]
    assert check.passed and check.partition is None  # checked once, for the whole range
    started = [e for e in result.events if isinstance(e, StepStarted)]
    assert started[0].pid != os.getpid()  # written from a Ray worker
    assert sorted(e.partition for e in result.events if isinstance(e, AssetMaterialized)) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]
