"""ParquetIOManager: the shared conformance suite on local disk and fsspec memory, plus the
Parquet-specific behaviour (schema metadata, table stats, error messages)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from raystra.definitions import AssetKey, IOManager
from raystra.errors import InputNotFoundError
from raystra.testing.io_manager_suite import (
    COLUMNS,
    ExplodingOnPickle,
    IOManagerConformance,
    input_for,
    output_for,
)
from raystra_io import ParquetIOManager
from raystra_io._atomic import is_temp_name


class TestParquetLocal(IOManagerConformance):
    @pytest.fixture
    def io_manager(self, tmp_path: Path) -> IOManager:
        return ParquetIOManager(base_path=str(tmp_path))


class TestParquetMemory(IOManagerConformance):
    @pytest.fixture
    def io_manager(self, tmp_path: Path) -> Iterator[IOManager]:
        root = f"memory://raystra-test-{uuid.uuid4().hex}"
        yield ParquetIOManager(base_path=root)
        fs, path = fsspec.core.url_to_fs(root)
        if fs.exists(path):
            fs.rm(path, recursive=True)


@pytest.fixture
def io(tmp_path: Path) -> ParquetIOManager:
    return ParquetIOManager(base_path=str(tmp_path))


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        (pa.table(COLUMNS), "pyarrow"),
        (pd.DataFrame(COLUMNS), "pandas"),
        (pl.DataFrame(COLUMNS), "polars"),
    ],
)
def test_table_is_parquet_tagged_with_its_producer(
    io: ParquetIOManager, tmp_path: Path, obj: Any, kind: str
) -> None:
    metadata = io.handle_output(output_for(), obj)
    assert metadata is not None
    path = tmp_path / "raw" / "orders.parquet"
    assert metadata["path"] == str(path)
    assert metadata["format"] == "parquet"
    assert metadata["byte_size"] == path.stat().st_size
    assert (metadata["row_count"], metadata["column_count"]) == (3, 3)
    assert [column["name"] for column in metadata["schema"]] == ["id", "amount", "name"]
    assert metadata["schema"][0]["type"] == "int64"
    assert pq.read_schema(path).metadata[b"raystra.python_type"] == kind.encode()


def test_loaded_arrow_table_drops_raystra_metadata_and_keeps_the_users(
    io: ParquetIOManager,
) -> None:
    table = pa.table(COLUMNS).replace_schema_metadata({"owner": "sales"})
    io.handle_output(output_for(), table)
    loaded = io.load_input(input_for(output_for()))
    assert loaded.equals(table, check_metadata=True)


def test_pandas_index_survives(io: ParquetIOManager) -> None:
    frame = pd.DataFrame(COLUMNS).set_index("name")
    io.handle_output(output_for(), frame)
    pd.testing.assert_frame_equal(io.load_input(input_for(output_for())), frame)


def test_other_objects_are_pickled(io: ParquetIOManager, tmp_path: Path) -> None:
    metadata = io.handle_output(output_for(), {"a": 1})
    assert metadata == {
        "path": str(tmp_path / "raw" / "orders.pkl"),
        "format": "pickle",
        "byte_size": (tmp_path / "raw" / "orders.pkl").stat().st_size,
    }


def test_none_output_stores_nothing(io: ParquetIOManager, tmp_path: Path) -> None:
    assert io.handle_output(output_for(), None) == {}
    assert list(tmp_path.iterdir()) == []


def test_switching_format_deletes_the_stale_file(io: ParquetIOManager, tmp_path: Path) -> None:
    io.handle_output(output_for(), {"a": 1})
    io.handle_output(output_for(), pa.table(COLUMNS))
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["orders.parquet"]
    io.handle_output(output_for(), {"a": 1})
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["orders.pkl"]


def test_memory_metadata_path_is_a_url() -> None:
    root = f"memory://raystra-test-{uuid.uuid4().hex}"
    metadata = ParquetIOManager(base_path=root).handle_output(output_for(), pa.table(COLUMNS))
    assert metadata is not None
    assert metadata["path"] == f"memory:///{root.removeprefix('memory://')}/raw/orders.parquet"
    # Other engines read the URL through fsspec as-is.
    assert len(pd.read_parquet(metadata["path"])) == 3


def test_missing_input_message_names_asset_paths_and_fix(
    io: ParquetIOManager, tmp_path: Path
) -> None:
    with pytest.raises(InputNotFoundError) as info:
        io.load_input(input_for(output_for(partition_key="2024-03-01")))
    message = str(info.value)
    assert "'raw/orders'" in message
    assert str(tmp_path / "raw" / "orders" / "partition=2024-03-01" / "data.parquet") in message
    assert "raystra materialize --select raw/orders --partition 2024-03-01" in message


def test_unconvertible_frame_error_names_the_asset(io: ParquetIOManager) -> None:
    frame = pd.DataFrame({"mixed": pd.Series([1, "two"], dtype=object)})
    with pytest.raises(pa.ArrowException) as info:
        io.handle_output(output_for(), frame)
    assert any("'raw/orders'" in note for note in info.value.__notes__)


def test_failing_write_really_fails_half_way(io: ParquetIOManager, tmp_path: Path) -> None:
    """The atomicity tests mean something only if bytes hit the disk before the error."""
    seen: list[int] = []

    class Probe(ExplodingOnPickle):
        def __reduce__(self) -> str:
            seen.extend(p.stat().st_size for p in tmp_path.rglob("*") if is_temp_name(p.name))
            return super().__reduce__()

    with pytest.raises(RuntimeError):
        io.handle_output(output_for(), {"blob": b"x" * 4_000_000, "bad": Probe()})
    assert seen and seen[0] > 1_000_000
    assert not (tmp_path / "raw" / "orders.pkl").exists()


def test_partition_directory_reads_as_a_hive_dataset_ignoring_temp_files(
    io: ParquetIOManager, tmp_path: Path
) -> None:
    for day in ("2024-03-01", "2024-03-02"):
        io.handle_output(output_for(partition_key=day), pa.table({"v": [day]}))
    (tmp_path / "raw" / "orders" / "partition=2024-03-01" / "_data.parquet.tmp-abc").write_bytes(
        b"half-written"
    )
    dataset = ds.dataset(tmp_path / "raw" / "orders", format="parquet", partitioning="hive")
    assert sorted(dataset.to_table().column("partition").to_pylist()) == [
        "2024-03-01",
        "2024-03-02",
    ]


def test_default_base_path_is_raystra_home_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAYSTRA_HOME", str(tmp_path / "home"))
    metadata = ParquetIOManager().handle_output(output_for(AssetKey("orders")), pa.table(COLUMNS))
    assert metadata is not None
    assert metadata["path"] == str(tmp_path / "home" / "storage" / "orders.parquet")
    assert (tmp_path / "home" / "storage" / "orders.parquet").is_file()


def test_default_raystra_home_is_under_the_user_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAYSTRA_HOME", raising=False)
    assert ParquetIOManager().storage().root == str(Path("~/.raystra/storage").expanduser())
