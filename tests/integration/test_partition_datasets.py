"""A partitioned asset's stored partitions read as one dataset by pyarrow, Dask and Spark."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from raystra import (
    AssetExecutionContext,
    Definitions,
    MultiPartitionsDefinition,
    PartitionRequest,
    StaticPartitionsDefinition,
    asset,
    backfill,
)

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("pyspark.sql")

from raystra_spark import SparkResource  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # dask 2026.8 calls reset_index(inplace=True), which pandas 3.1 deprecates.
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index"),
]

REGIONS_BY_DAY = MultiPartitionsDefinition(
    {
        "day": StaticPartitionsDefinition(["2024-01-01", "2024-01-02"]),
        "region": StaticPartitionsDefinition(["eu", "us", "apac"]),
    }
)


@asset(partitions_def=REGIONS_BY_DAY)
def visits(context: AssetExecutionContext) -> pa.Table:
    key = context.partition_key.keys_by_dimension
    return pa.table({"n": [len(key["region"])] * 4})


def test_partitions_read_back_as_one_dataset_by_every_engine(
    raystra_home: Path, spark_remote: str
) -> None:
    assert backfill(Definitions([visits]), "*", partitions=PartitionRequest(all=True)).success
    folder = raystra_home / "storage" / "visits"
    days, regions = ("2024-01-01", "2024-01-02"), ("eu", "us", "apac")
    expected = {(day, region) for day in days for region in regions}

    by_arrow = ds.dataset(str(folder), format="parquet", partitioning="hive").to_table()
    pairs = zip(by_arrow["day"].to_pylist(), by_arrow["region"].to_pylist(), strict=True)
    assert set(pairs) == expected
    assert by_arrow.num_rows == 24

    by_dask = dd.read_parquet(str(folder)).compute()
    pairs = zip(by_dask["day"].astype(str), by_dask["region"].astype(str), strict=True)
    assert set(pairs) == expected
    assert len(by_dask) == 24

    session = SparkResource(remote=spark_remote).get_session()
    rows = session.read.parquet(str(folder)).groupBy("day", "region").count().collect()
    assert {(str(r["day"]), r["region"]) for r in rows} == expected
    assert sum(r["count"] for r in rows) == 24
