"""An op-based job: per-customer features from the stored mart, then a least-squares model.

Ops suit task-style work that is not itself a table you want to keep, like a training run. The
first op loads the ``sales_by_customer`` asset through the IO manager (``In(asset_key=...)``), so
the job runs on whatever was last materialized.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from raystra import AssetExecutionContext, In, job, op

__all__ = ["FEATURES", "extract_features", "train_model", "train_model_job"]

FEATURES = ("orders", "units", "avg_order_value", "days_active")
TARGET = "revenue"


@op(ins={"sales": In(asset_key="sales_by_customer")})
def extract_features(context: AssetExecutionContext, sales: pd.DataFrame) -> pd.DataFrame:
    """Per-customer feature table: orders, units, average order value, days active, revenue.

    ``days_active`` is the (fractional) number of days between a customer's first and last
    order; ``revenue`` is the target `train_model` predicts.
    """
    active = (sales["last_order"] - sales["first_order"]).dt.total_seconds() / 86_400
    features = pd.DataFrame(
        {
            "customer_id": sales["customer_id"],
            "orders": sales["orders"].astype("float64"),
            "units": sales["units"].astype("float64"),
            "avg_order_value": sales["revenue"] / sales["orders"],
            "days_active": active,
            TARGET: sales["revenue"].astype("float64"),
        }
    )
    context.log.info("Built %d features for %d customers", len(FEATURES), len(features))
    return features


@op
def train_model(context: AssetExecutionContext, features: pd.DataFrame) -> dict[str, Any]:
    """Fit revenue ~ intercept + features by ordinary least squares (numpy only).

    Returns the intercept, one coefficient per feature, the in-sample R² and the number of
    customers it was fitted on.
    """
    x = features[list(FEATURES)].to_numpy(dtype="float64")
    y = features[TARGET].to_numpy(dtype="float64")
    design = np.column_stack([np.ones(len(x)), x])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else 0.0
    context.log.info("Fitted revenue on %d customers: R² = %.4f", len(y), r2)
    return {
        "target": TARGET,
        "intercept": float(coefficients[0]),
        "coefficients": dict(zip(FEATURES, map(float, coefficients[1:]), strict=True)),
        "r2": r2,
        "n_samples": len(y),
    }


@job
def train_model_job() -> None:
    """Train a per-customer revenue model from the stored sales_by_customer table."""
    train_model(extract_features())
