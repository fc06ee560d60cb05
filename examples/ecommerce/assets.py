"""Ingest, clean and aggregate a day of orders: the tables of the tutorial pipeline.

``daily_sales`` lands a CSV and reads it back like a real ingestion would; ``clean_sales`` fixes
what is wrong with it; ``sales_by_customer`` is the per-customer mart the report and the model
read. Each returns a DataFrame, which the default IO manager stores as Parquet.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from pydantic import Field

from examples.ecommerce.resources import LandingZone, atomic_write_path
from examples.ecommerce.synthetic import generate_orders
from raystra import AssetExecutionContext, Config, asset

__all__ = [
    "DailySalesConfig",
    "clean_orders",
    "clean_sales",
    "daily_sales",
    "sales_by_customer",
]


class DailySalesConfig(Config):
    """Run config of `daily_sales`: how big a day, which random stream, which date."""

    rows: int = Field(default=5_000, ge=10, description="Order lines to generate.")
    seed: int = Field(default=42, description="Seed of the random generator.")
    date: dt.date = Field(default=dt.date(2024, 3, 1), description="The business day.")


@asset(group_name="ingest")
def daily_sales(
    context: AssetExecutionContext, config: DailySalesConfig, landing: LandingZone
) -> pd.DataFrame:
    """One day of raw web-shop orders, as exported to the landing zone (dirty rows included).

    Generates a synthetic day of order lines (order_id, customer_id, product, quantity,
    unit_price, order_ts, country), writes them as ``orders_<date>.csv`` to the `LandingZone`,
    then reads that file back with pandas, so downstream assets see exactly what a real
    ingestion would: strings for timestamps, a few rows without a customer, a few negative
    quantities, and duplicated orders.
    """
    orders, dirt = generate_orders(config.rows, seed=config.seed, day=config.date)
    csv_path = landing.file(f"orders_{config.date:%Y-%m-%d}.csv")
    with atomic_write_path(csv_path) as tmp:
        orders.to_csv(tmp, index=False)
    context.log.info(
        "Wrote %d rows to %s (%d without customer, %d negative quantities, %d duplicates)",
        len(orders),
        csv_path,
        dirt.missing_customer,
        dirt.negative_quantity,
        dirt.duplicates,
    )
    context.add_output_metadata(
        {"csv_path": str(csv_path), "rows_written": len(orders), "dirty_rows": dirt.total}
    )
    return pd.read_csv(csv_path)


@asset(group_name="sales", code_version="1")
def clean_sales(context: AssetExecutionContext, daily_sales: pd.DataFrame) -> pd.DataFrame:
    """Orders fit for analysis: deduplicated, every row with a customer, typed, with an amount.

    Drops re-sent orders (a repeated ``order_id`` keeps its first row) and rows without a
    ``customer_id``; repairs sign-flipped quantities (``-2`` becomes ``2``) and drops rows whose
    quantity is zero. Parses ``order_ts`` to timestamps and adds ``amount = quantity *
    unit_price``.
    """
    sales, dropped = clean_orders(daily_sales)
    context.log.info(
        "Dropped %d duplicate orders, %d rows without customer and %d with zero quantity; "
        "repaired %d negative quantities; %d of %d rows remain",
        dropped["dropped_duplicates"],
        dropped["dropped_missing_customer"],
        dropped["dropped_zero_quantity"],
        dropped["repaired_negative_quantity"],
        len(sales),
        len(daily_sales),
    )
    context.add_output_metadata(dropped)
    return sales


def clean_orders(orders: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The cleaning rules of `clean_sales`, and how many rows each rule touched.

    Example:
        >>> raw = pd.DataFrame({"order_id": [1, 1], "customer_id": ["c1", "c1"],
        ...     "quantity": [-2, -2], "unit_price": [5.0, 5.0],
        ...     "order_ts": ["2024-03-01T10:00:00", "2024-03-01T10:00:00"]})
        >>> clean, counts = clean_orders(raw)
        >>> clean["amount"].tolist(), counts["dropped_duplicates"]
        ([10.0], 1)
    """
    duplicated = orders.duplicated(subset="order_id", keep="first")
    sales = orders[~duplicated]
    no_customer = sales["customer_id"].fillna("").astype(str).str.strip().eq("")
    sales = sales[~no_customer]
    negative = int((sales["quantity"] < 0).sum())
    sales = sales.assign(quantity=sales["quantity"].abs())
    zero = sales["quantity"] == 0
    sales = sales[~zero]
    sales = sales.assign(
        order_ts=pd.to_datetime(sales["order_ts"], format="ISO8601"),
        amount=(sales["quantity"] * sales["unit_price"]).round(2),
    ).reset_index(drop=True)
    counts = {
        "dropped_duplicates": int(duplicated.sum()),
        "dropped_missing_customer": int(no_customer.sum()),
        "dropped_zero_quantity": int(zero.sum()),
        "repaired_negative_quantity": negative,
    }
    return sales, counts


@asset(group_name="sales")
def sales_by_customer(clean_sales: pd.DataFrame) -> pd.DataFrame:
    """Per-customer totals for the day: orders, units, revenue, first and last order.

    One row per customer, with their country, sorted by revenue (highest first).
    """
    by_customer = (
        clean_sales.groupby("customer_id", as_index=False)
        .agg(
            country=("country", "first"),
            orders=("order_id", "nunique"),
            units=("quantity", "sum"),
            revenue=("amount", "sum"),
            first_order=("order_ts", "min"),
            last_order=("order_ts", "max"),
        )
        .sort_values(["revenue", "customer_id"], ascending=[False, True])
        .reset_index(drop=True)
    )
    return by_customer.assign(revenue=by_customer["revenue"].round(2))
