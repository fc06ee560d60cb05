"""The OpenTelemetry gauges of asset freshness, published by the daemon each iteration.

- ``raystra.asset.overdue`` (gauge, 1 or 0): whether the asset misses its `FreshnessPolicy`,
  by ``raystra.asset.key``; alert on ``== 1``.
- ``raystra.asset.overdue.minutes`` (gauge, min): how long it has been overdue (0 when fresh).

Asset keys are the only attribute, as for the other raystra metrics. Off, and the SDK never
imported, unless metrics are turned on (see `raystra.observability._metrics`).

Example:
    >>> record_asset_freshness({"orders": 12.5, "customers": None})  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from raystra.observability import _attributes as attrs
from raystra.observability._metrics import _version, meter_provider_for, metrics_enabled

__all__ = ["ASSET_OVERDUE", "ASSET_OVERDUE_MINUTES", "record_asset_freshness"]

ASSET_OVERDUE = "raystra.asset.overdue"
ASSET_OVERDUE_MINUTES = "raystra.asset.overdue.minutes"


def record_asset_freshness(
    minutes_overdue: Mapping[str, float | None], *, meter_provider: Any = None
) -> None:
    """Set both gauges for each asset key (``None``: fresh). Does nothing when metrics are off.

    Example:
        >>> record_asset_freshness({"orders": None})  # metrics off: nothing happens
    """
    if meter_provider is None:
        if not metrics_enabled(os.environ):
            return
        meter_provider = meter_provider_for(os.environ)
    meter = meter_provider.get_meter("raystra", _version())
    overdue = meter.create_gauge(
        ASSET_OVERDUE,
        unit="1",
        description="1 when the asset misses its freshness policy, else 0; by asset.",
    )
    minutes = meter.create_gauge(
        ASSET_OVERDUE_MINUTES,
        unit="min",
        description="Minutes since the asset became overdue (0 when fresh); by asset.",
    )
    for key, late in minutes_overdue.items():
        attributes = {attrs.ASSET_KEY: key}
        overdue.set(0 if late is None else 1, attributes)
        minutes.set(0.0 if late is None else round(late, 3), attributes)
