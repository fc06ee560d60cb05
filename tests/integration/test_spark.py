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
    StaticPartitionsDefinition,
    asset,
    materialize,
)
from raystra.events import AssetMaterialized, StepFailed, StepStarted

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
