"""The storage layout: the one function that maps an output to a path."""

from __future__ import annotations

from pathlib import Path

import pytest

from raystra.definitions import AssetKey, OutputContext
from raystra.testing.io_manager_suite import output_for
from raystra_io._atomic import is_temp_name, temp_sibling
from raystra_io._paths import StorageRoot, output_path


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (output_for(AssetKey(["raw", "orders"])), "/base/raw/orders.parquet"),
        (output_for(AssetKey("orders"), partition_key="2024-03-01"),
         "/base/orders/partition=2024-03-01/data.parquet"),
        (output_for(AssetKey("orders"), partition_key="eu/west|2024"),
         "/base/orders/partition=eu%2Fwest%7C2024/data.parquet"),
        (output_for(None, run_id="r1", step_key="clean", output_name="rejects"),
         "/base/runs/r1/clean/rejects.parquet"),
        (output_for(None, run_id="r1", step_key="raw/orders"),
         "/base/runs/r1/raw%2Forders/result.parquet"),
    ],
)  # fmt: skip
def test_layout(context: OutputContext, expected: str) -> None:
    assert output_path("/base/", context, "parquet") == expected


def test_temp_sibling_is_hidden_from_readers() -> None:
    temp = temp_sibling("/base/orders/partition=x/data.parquet")
    assert temp.startswith("/base/orders/partition=x/_data.parquet.tmp-")
    assert not temp.endswith(".parquet")
    assert is_temp_name(temp)
    assert not is_temp_name("/base/orders/partition=x/data.parquet")


def test_url_is_plain_for_local_disk_and_a_url_elsewhere(tmp_path: Path) -> None:
    local = StorageRoot.resolve(f"file://{tmp_path}")
    assert local.url(f"{local.root}/a.pkl") == f"{tmp_path}/a.pkl"
    memory = StorageRoot.resolve("memory://bucket/prefix")
    assert memory.url(f"{memory.root}/a.pkl") == "memory:///bucket/prefix/a.pkl"
