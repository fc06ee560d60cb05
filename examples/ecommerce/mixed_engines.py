"""The tutorial pipeline on three engines, partitioned daily: pandas, Spark and Dask in one graph.

``orders`` (pandas) generates and cleans one day of orders; ``customer_sales`` is a Spark step
that reads the day's Parquet with Spark and writes its aggregate with Spark; ``customer_tiers``
is a Dask step whose graph runs on the Ray cluster; ``month_report`` reads every day of both as
pandas and summarises revenue per spending tier. Parquet is the currency between them: no step
collects another engine's frame through the driver.

Backfill March 2024 as one Ray DAG (the embedded Spark Connect server needs Java 17)::

    raystra backfill -m examples.ecommerce.mixed_engines --select '*' \\
        --from 2024-03-01 --to 2024-03-31
"""

from __future__ import annotations

import datetime as dt

import dask.dataframe as dd
import pandas as pd
import pyspark.sql as ps
from pyspark.sql import functions as F

from examples.ecommerce.assets import clean_orders
from examples.ecommerce.synthetic import generate_orders
from raystra import (
    AllPartitionMapping,
    AssetExecutionContext,
    AssetIn,
    DailyPartitionsDefinition,
    Definitions,
    asset,
)
from raystra_spark import SparkResource

__all__ = ["MARCH", "TIER_NAMES", "defs"]

MARCH = DailyPartitionsDefinition(start_date="2024-03-01", end_date="2024-04-01")
ORDERS_PER_DAY = 1_000
# A customer's tier for a day, by what they spent that day.
TIER_LIMITS = (100.0, 400.0)
TIER_NAMES = {0: "occasional", 1: "regular", 2: "big spender"}


@asset(partitions_def=MARCH, group_name="mixed", code_version="1")
def orders(context: AssetExecutionContext) -> pd.DataFrame:
    """pandas: one day of web-shop orders, cleaned like ``clean_sales``."""
    day = dt.date.fromisoformat(context.partition_key)
    raw, _ = generate_orders(ORDERS_PER_DAY, seed=day.toordinal(), day=day)
    cleaned, counts = clean_orders(raw)
    context.add_output_metadata(counts)
    # Plain column types every engine reads the same way (pandas 3 would store its own).
    return cleaned.astype({"customer_id": "object", "product": "object", "country": "object"})


@asset(partitions_def=MARCH, group_name="mixed")
def customer_sales(spark: SparkResource, orders: ps.DataFrame) -> ps.DataFrame:
    """Spark: the day's orders, units and revenue per customer.

    Spark reads the day's ``orders`` Parquet itself and writes this asset's partition itself.
    """
    return orders.groupBy("customer_id").agg(
        F.first("country").alias("country"),
        F.countDistinct("order_id").alias("orders"),
        F.sum("quantity").alias("units"),
        F.round(F.sum("amount"), 2).alias("revenue"),
    )


@asset(partitions_def=MARCH, group_name="mixed")
def customer_tiers(orders: dd.DataFrame) -> dd.DataFrame:
    """Dask: each customer's spending tier for the day (0, 1 or 2; see ``TIER_NAMES``).

    The graph (read, group, write) runs on the Ray cluster through Ray's Dask scheduler.
    """
    spend = orders.groupby("customer_id")["amount"].sum().to_frame("spend").reset_index()
    low, high = TIER_LIMITS
    tier = (spend["spend"] >= low).astype("int64") + (spend["spend"] >= high).astype("int64")
    return spend.assign(tier=tier)


@asset(
    group_name="mixed",
    ins={
        "customer_sales": AssetIn(partition_mapping=AllPartitionMapping()),
        "customer_tiers": AssetIn(partition_mapping=AllPartitionMapping()),
    },
)
def month_report(customer_sales: pd.DataFrame, customer_tiers: pd.DataFrame) -> pd.DataFrame:
    """pandas: customers, revenue and share of revenue per tier, over every day backfilled.

    Both inputs arrive as one table for all their days, with a ``partition`` column (the day).
    """
    joined = customer_sales.merge(customer_tiers, on=["customer_id", "partition"], how="inner")
    report = (
        joined.groupby("tier", as_index=False)
        .agg(customer_days=("customer_id", "size"), revenue=("revenue", "sum"))
        .sort_values("tier")
        .reset_index(drop=True)
    )
    report["tier_name"] = report["tier"].map(TIER_NAMES)
    report["revenue_share"] = (report["revenue"] / report["revenue"].sum()).round(4)
    return report


defs = Definitions(
    assets=[orders, customer_sales, customer_tiers, month_report],
    resources={"spark": SparkResource()},
)
