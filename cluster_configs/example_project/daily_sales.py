"""A small partitioned project for trying raystra on a Ray cluster.

``orders`` generates one day of synthetic order lines; ``daily_revenue`` sums them per country.
Both are partitioned by day over March 2024 and need nothing but pyarrow, so the stock Ray
image plus raystra runs them. Where outputs go is the only thing that changes between a laptop
and a cluster, and it comes from the environment, never from the code:

- ``LAKE_URL`` (this project's own setting): ``s3://bucket/prefix``, ``gs://bucket/prefix`` or
  a shared folder. Unset, outputs go to ``$RAYSTRA_HOME/storage``, fine on one machine only.
- ``LAKE_ENDPOINT_URL``: an S3-compatible endpoint (MinIO, Ceph) instead of AWS.
- Credentials: none here. s3fs and gcsfs find them where each step runs: the node's instance
  profile or service account, Kubernetes workload identity, or the standard ``AWS_*`` and
  ``GOOGLE_APPLICATION_CREDENTIALS`` variables.

Backfill a week, on a laptop or (with ``raystra submit``) on a cluster::

    raystra -f cluster_configs/example_project/daily_sales.py backfill --select '*' \\
        --from 2024-03-01 --to 2024-03-07
"""

from __future__ import annotations

import datetime as dt
import os
import random
from typing import Any

import pyarrow as pa

from raystra import AssetExecutionContext, DailyPartitionsDefinition, Definitions, asset
from raystra_io import ParquetIOManager

__all__ = ["MARCH", "daily_revenue", "defs", "orders"]

MARCH = DailyPartitionsDefinition(start_date="2024-03-01", end_date="2024-04-01")
COUNTRIES = ("DE", "FR", "NL", "PL", "US")
ORDERS_PER_DAY = 2_000


@asset(partitions_def=MARCH, group_name="sales", code_version="1")
def orders(context: AssetExecutionContext) -> pa.Table:
    """One day of order lines: order id, country and amount, the same on every run."""
    day = dt.date.fromisoformat(context.partition_key)
    rng = random.Random(day.toordinal())
    table = pa.table(
        {
            "order_id": [f"{day:%Y%m%d}-{i:05d}" for i in range(ORDERS_PER_DAY)],
            "country": [rng.choice(COUNTRIES) for _ in range(ORDERS_PER_DAY)],
            "amount": [round(rng.uniform(5, 250), 2) for _ in range(ORDERS_PER_DAY)],
        }
    )
    context.log.info("generated %d orders for %s", table.num_rows, day)
    return table


@asset(partitions_def=MARCH, group_name="sales", code_version="1")
def daily_revenue(orders: pa.Table) -> pa.Table:
    """The day's order count and revenue per country."""
    return orders.group_by("country").aggregate([("order_id", "count"), ("amount", "sum")])


def _io_manager() -> dict[str, Any]:
    lake = os.environ.get("LAKE_URL")
    if not lake:
        return {}  # raystra's default: Parquet under $RAYSTRA_HOME/storage
    endpoint = os.environ.get("LAKE_ENDPOINT_URL")
    options = {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    return {"io_manager": ParquetIOManager(base_path=lake, storage_options=options)}


defs = Definitions(assets=[orders, daily_revenue], resources=_io_manager())
