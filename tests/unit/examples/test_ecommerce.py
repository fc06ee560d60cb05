"""The e-commerce example end to end: CSV landing, Parquet tables, the PDF report, the model job."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

import raystra
from examples.ecommerce.assets import DailySalesConfig, clean_sales
from examples.ecommerce.definitions import defs
from raystra import AssetExecutionContext, RunResult


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAYSTRA_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def run(home: Path) -> RunResult:
    return raystra.materialize(defs, executor="in_process")


def _metadata(result: RunResult, key: str) -> dict[str, object]:
    (event,) = [m for m in result.materializations if m.asset_key.to_user_string() == key]
    return dict(event.metadata)


def _context(name: str) -> AssetExecutionContext:
    return AssetExecutionContext(run_id="test-run", step_key=name, node_name=name)


def test_definitions_shape() -> None:
    assert {key.to_user_string() for key in defs.asset_graph.materializable_keys} == {
        "daily_sales",
        "clean_sales",
        "sales_by_customer",
        "revenue_report",
    }
    assert set(defs.jobs) == {"train_model_job"}
    assert set(defs.resources) == {"landing", "reports"}
    for node in (*defs.assets, *(n.op for n in defs.get_job("train_model_job").nodes)):
        assert node.description, f"{node.name} needs a docstring"


def test_materialize_everything(run: RunResult, home: Path) -> None:
    assert run.success
    assert {m.asset_key.to_user_string() for m in run.materializations} == {
        "daily_sales",
        "clean_sales",
        "sales_by_customer",
        "revenue_report",
    }

    # daily_sales landed a CSV, dirt included, and recorded where.
    (csv_path,) = (home / "landing").glob("*.csv")
    assert _metadata(run, "daily_sales")["csv_path"] == str(csv_path)
    landed = pd.read_csv(csv_path)
    assert len(landed) >= DailySalesConfig().rows
    assert landed["customer_id"].isna().sum() > 0
    assert (landed["quantity"] < 0).sum() > 0
    assert landed["order_id"].duplicated().sum() > 0

    # clean_sales has none of it.
    clean = raystra.load_asset_value(defs, "clean_sales")
    assert clean["customer_id"].notna().all()
    assert (clean["quantity"] > 0).all()
    assert not clean["order_id"].duplicated().any()
    assert pd.api.types.is_datetime64_any_dtype(clean["order_ts"])
    assert clean["amount"].to_numpy() == pytest.approx(
        (clean["quantity"] * clean["unit_price"]).to_numpy(), abs=0.005
    )
    assert 0 < len(clean) < len(landed)

    # sales_by_customer adds up to clean_sales, customer by customer.
    by_customer = raystra.load_asset_value(defs, "sales_by_customer")
    assert by_customer["customer_id"].is_unique
    assert by_customer["revenue"].sum() == pytest.approx(clean["amount"].sum(), abs=0.01)
    assert by_customer["orders"].sum() == len(clean)
    expected = clean.groupby("customer_id")["amount"].sum().round(2)
    got = by_customer.set_index("customer_id")["revenue"]
    assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())

    # Tables were stored as Parquet, with their row counts recorded.
    for key, frame in [("daily_sales", landed), ("clean_sales", clean)]:
        assert _metadata(run, key)["row_count"] == len(frame)
    assert _metadata(run, "sales_by_customer")["row_count"] == len(by_customer)
    assert (home / "storage" / "sales_by_customer.parquet").is_file()


def test_revenue_report_pdf(run: RunResult, home: Path) -> None:
    metadata = _metadata(run, "revenue_report")
    pdf = home / "reports" / "revenue_report.pdf"
    assert metadata["path"] == str(pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert data.rstrip().endswith(b"%%EOF")
    page_objects = len(re.findall(rb"/Type\s*/Page\b", data))
    assert metadata["pages"] == page_objects >= 4
    clean = raystra.load_asset_value(defs, "clean_sales")
    assert metadata["total_revenue"] == pytest.approx(clean["amount"].sum(), abs=0.01)
    assert not list(pdf.parent.glob("*.tmp")), "the temporary file was not cleaned up"


def test_train_model_job(run: RunResult) -> None:
    result = raystra.execute_job(defs, "train_model_job")
    assert result.success
    model = result.output_for("train_model")
    r2 = model["r2"]
    assert math.isfinite(r2)
    assert 0.5 < r2 <= 1.0
    assert set(model["coefficients"]) == {"orders", "units", "avg_order_value", "days_active"}
    assert model["n_samples"] == len(raystra.load_asset_value(defs, "sales_by_customer"))
    features = result.output_for("extract_features")
    assert list(features.columns) == [
        "customer_id",
        "orders",
        "units",
        "avg_order_value",
        "days_active",
        "revenue",
    ]


def test_run_config_and_configured_paths(home: Path, tmp_path: Path) -> None:
    from examples.ecommerce.resources import LandingZone, ReportsDir

    landing, reports = tmp_path / "elsewhere" / "landing", tmp_path / "elsewhere" / "out"
    result = raystra.materialize(
        defs,
        resources={
            "landing": LandingZone(path=str(landing)),
            "reports": ReportsDir(path=str(reports)),
        },
        run_config={
            "ops": {"daily_sales": {"config": {"rows": 300, "seed": 7, "date": "2024-06-30"}}}
        },
    )
    assert result.success
    landed = pd.read_csv(landing / "orders_2024-06-30.csv")
    assert 300 < len(landed) < 310  # the rows asked for, plus a few re-sent duplicates
    assert landed["order_ts"].str.startswith("2024-06-30").all()
    assert (reports / "revenue_report.pdf").read_bytes().startswith(b"%PDF")


def test_clean_sales_on_a_hand_made_frame() -> None:
    raw = pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O2", "O3", "O4", "O5"],
            "customer_id": ["C1", "C2", "C2", None, "C3", "C1"],
            "product": ["Mouse", "Cable", "Cable", "Lamp", "Chair", "Mouse"],
            "quantity": [2, 1, 1, 3, -4, 0],
            "unit_price": [24.99, 9.99, 9.99, 34.0, 349.0, 24.99],
            "order_ts": [
                "2024-03-01T09:00:00",
                "2024-03-01T10:30:00",
                "2024-03-01T10:30:00",
                "2024-03-01T11:00:00",
                "2024-03-01T12:15:00",
                "2024-03-01T13:00:00",
            ],
            "country": ["US", "DE", "DE", "FR", "GB", "US"],
        }
    )
    context = _context("clean_sales")

    clean = clean_sales(context, raw)

    assert clean["order_id"].tolist() == ["O1", "O2", "O4"]  # duplicate, no customer, zero gone
    assert clean["quantity"].tolist() == [2, 1, 4]  # the sign-flipped quantity is repaired
    assert clean["amount"].tolist() == [49.98, 9.99, 1396.0]
    assert clean["order_ts"].iloc[2] == pd.Timestamp("2024-03-01 12:15:00")
    assert context.output_metadata("result") == {
        "dropped_duplicates": 1,
        "dropped_missing_customer": 1,
        "dropped_zero_quantity": 1,
        "repaired_negative_quantity": 1,
    }
