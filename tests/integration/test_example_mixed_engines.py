"""The mixed-engine example: pandas -> Spark and Dask -> pandas, a month backfilled on Ray."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

pytest.importorskip("pyspark")
pytest.importorskip("dask")

import raystra
from raystra import PartitionRequest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("on_ray")]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def mixed(spark_remote: str, monkeypatch: pytest.MonkeyPatch) -> raystra.Definitions:
    """The example's definitions, its Spark pointed at the test session's server."""
    monkeypatch.syspath_prepend(str(REPO))  # `examples` is not an installed package
    from examples.ecommerce.mixed_engines import defs
    from raystra_spark import SparkResource

    return defs.with_resources({"spark": SparkResource(remote=spark_remote)})


def test_a_month_backfills_across_pandas_spark_and_dask(
    mixed: raystra.Definitions, raystra_home: Path
) -> None:
    from examples.ecommerce.mixed_engines import TIER_NAMES

    result = raystra.backfill(
        mixed,
        "*",
        partitions=PartitionRequest(
            key_range=raystra.PartitionKeyRange("2024-03-01", "2024-03-31")
        ),
    )
    assert result.success, result.record.status
    storage = raystra_home / "storage"
    for daily in ("orders", "customer_sales", "customer_tiers"):
        days = ds.dataset(str(storage / daily), format="parquet", partitioning="hive")
        assert len(set(days.to_table(columns=["partition"])["partition"].to_pylist())) == 31

    # The Spark and Dask outputs agree with a pandas recomputation from the stored orders.
    orders = ds.dataset(str(storage / "orders"), format="parquet", partitioning="hive")
    pandas_orders = orders.to_table().to_pandas()
    sales = ds.dataset(str(storage / "customer_sales"), format="parquet", partitioning="hive")
    spark_revenue = sales.to_table(columns=["revenue"])["revenue"].to_pylist()
    assert sum(spark_revenue) == pytest.approx(pandas_orders["amount"].sum(), rel=1e-6)

    report = raystra.load_asset_value(mixed, "month_report")
    assert set(report["tier_name"]) <= set(TIER_NAMES.values())
    assert report["revenue"].sum() == pytest.approx(pandas_orders["amount"].sum(), rel=1e-6)
    assert report["revenue_share"].sum() == pytest.approx(1.0, abs=1e-3)
