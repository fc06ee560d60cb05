"""A realistic synthetic day of web-shop orders, with the dirt real exports have.

Kept apart from the assets so the generator can be reused (and read) on its own. Everything is
drawn from one seeded numpy generator, so the same ``(rows, seed, day)`` gives the same file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "DirtCounts", "generate_orders"]

COLUMNS = ["order_id", "customer_id", "product", "quantity", "unit_price", "order_ts", "country"]

# Country -> share of customers.
_COUNTRIES = {
    "US": 0.32,
    "GB": 0.12,
    "DE": 0.11,
    "FR": 0.08,
    "CA": 0.07,
    "NL": 0.05,
    "AU": 0.05,
    "JP": 0.06,
    "BR": 0.05,
    "IN": 0.05,
    "ES": 0.04,
}

# Product -> list price (USD). Cheaper items sell more often (see _product_weights).
_CATALOG = {
    "USB-C cable": 9.99,
    "Phone case": 14.99,
    "Screen protector": 7.99,
    "Wireless mouse": 24.99,
    "Mechanical keyboard": 89.00,
    "Laptop stand": 39.50,
    "Webcam 1080p": 49.99,
    "Noise-cancelling headphones": 199.00,
    "Bluetooth speaker": 59.00,
    "Portable SSD 1TB": 109.00,
    "27in monitor": 279.00,
    "Desk lamp": 34.00,
    "Smartwatch": 229.00,
    "Power bank": 29.99,
    "HDMI adapter": 12.49,
    "Ergonomic chair": 349.00,
}

# Relative order volume per hour of the day: quiet at night, peaks at lunch and in the evening.
_HOURLY = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4.5, 5, 6, 5.5, 5, 4.5, 4.5, 5, 6, 7, 7.5, 6, 4, 2]
)


@dataclass(frozen=True)
class DirtCounts:
    """How many rows of each kind of dirt `generate_orders` planted."""

    missing_customer: int
    negative_quantity: int
    duplicates: int

    @property
    def total(self) -> int:
        """All dirty rows."""
        return self.missing_customer + self.negative_quantity + self.duplicates


def _product_weights(prices: np.ndarray) -> np.ndarray:
    weights = 1.0 / np.sqrt(prices)
    return weights / weights.sum()


def generate_orders(rows: int, *, seed: int, day: dt.date) -> tuple[pd.DataFrame, DirtCounts]:
    """Generate ``rows`` order lines for ``day`` plus a few dirty rows, sorted by time.

    Customers have a heavy-tailed activity (a few buy a lot), a home country, and buy cheap
    accessories more often than monitors. About 0.4% of rows each get a missing
    ``customer_id`` or a sign-flipped ``quantity``, and as many rows are sent twice (exact
    duplicates, same ``order_id``), as happens when an export is retried.

    Example:
        >>> orders, dirt = generate_orders(100, seed=1, day=dt.date(2024, 3, 1))
        >>> len(orders) == 100 + dirt.duplicates, list(orders.columns) == COLUMNS
        (True, True)
    """
    rng = np.random.default_rng(seed)

    n_customers = max(5, rows // 6)
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=n_customers)
    customer_ids = np.array([f"C{i:05d}" for i in range(1, n_customers + 1)])
    shares = np.array(list(_COUNTRIES.values()))
    home_country = rng.choice(list(_COUNTRIES), size=n_customers, p=shares / shares.sum())
    buyer = rng.choice(n_customers, size=rows, p=activity / activity.sum())

    names = np.array(list(_CATALOG))
    prices = np.array(list(_CATALOG.values()))
    product = rng.choice(len(names), size=rows, p=_product_weights(prices))
    discount = rng.choice([0.0, 0.10, 0.20], size=rows, p=[0.8, 0.15, 0.05])
    unit_price = np.round(prices[product] * (1 - discount), 2)
    quantity = np.minimum(1 + rng.poisson(0.6, size=rows), 10)

    hour = rng.choice(24, size=rows, p=_HOURLY / _HOURLY.sum())
    second_of_day = np.sort(hour * 3600 + rng.integers(0, 3600, size=rows))
    midnight = pd.Timestamp(day)
    order_ts = midnight + pd.to_timedelta(second_of_day, unit="s")

    orders = pd.DataFrame(
        {
            "order_id": [f"ORD-{day:%Y%m%d}-{i:06d}" for i in range(1, rows + 1)],
            "customer_id": customer_ids[buyer],
            "product": names[product],
            "quantity": quantity,
            "unit_price": unit_price,
            "order_ts": order_ts.strftime("%Y-%m-%dT%H:%M:%S"),
            "country": home_country[buyer],
        }
    )

    # Plant the dirt on distinct rows so each kind is counted exactly once.
    n_dirty = max(1, rows // 250)
    picked = rng.choice(rows, size=3 * n_dirty, replace=False)
    no_customer, flipped, resent = np.split(picked, 3)
    orders.loc[no_customer, "customer_id"] = None
    orders.loc[flipped, "quantity"] = -orders.loc[flipped, "quantity"]
    orders = pd.concat([orders, orders.loc[resent]]).sort_index(kind="stable")
    dirt = DirtCounts(
        missing_customer=len(no_customer),
        negative_quantity=len(flipped),
        duplicates=len(resent),
    )
    return orders.reset_index(drop=True), dirt
