"""One frame covering several partitions, stored in one write (raystra_io's engine-neutral part):
partition directories checked against the range, empty partitions, nothing replaced on error,
all partitions restored if a swap fails. A small engine over pyarrow stands in for Spark here;
tests/integration/test_spark.py runs the same path with a real Spark Connect server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from raystra.definitions import AssetKey, InputContext, OutputContext
from raystra.errors import RaystraError
from raystra_io import EngineLocation, TableEngine
from raystra_io._paths import StorageRoot
from raystra_io._ranges import store_partition_range

SALES = AssetKey("sales")


class Frame:
    """A lazy frame of the test engine (the IO manager must not treat it as a table)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table


class ArrowEngine(TableEngine):
    """Writes Hive-partitioned Parquet with pyarrow, as Spark's partitionBy does."""

    name = "arrow-test"

    def handles_type(self, tp: object) -> bool:
        return tp is Frame

    def handles_object(self, obj: object) -> bool:
        return isinstance(obj, Frame)

    def write(
        self, obj: Any, location: EngineLocation, context: OutputContext
    ) -> Mapping[str, Any]:
        raise AssertionError("a range is written with write_partitioned")

    def read(self, location: EngineLocation, context: InputContext) -> Any:
        raise AssertionError("not read here")

    def column_names(self, obj: Any) -> list[str]:
        return list(obj.table.column_names)

    def arrow_schema(self, obj: Any) -> Any:
        return obj.table.schema

    def write_partitioned(
        self,
        obj: Any,
        location: EngineLocation,
        columns: Sequence[str],
        context: OutputContext,
    ) -> Mapping[str, Any]:
        schema = pa.schema([obj.table.schema.field(c) for c in columns])
        ds.write_dataset(
            obj.table,
            location.path,
            format="parquet",
            partitioning=ds.partitioning(schema, flavor="hive"),
            filesystem=location.filesystem,
        )
        return {"column_count": obj.table.num_columns - len(columns)}


def _contexts(*dimensions: dict[str, str]) -> list[OutputContext]:
    return [
        OutputContext(
            run_id="r1",
            step_key="sales",
            asset_key=SALES,
            partition_key="|".join(d.values()),
            partition_dimensions=d,
        )
        for d in dimensions
    ]


def _store(root: StorageRoot, contexts: list[OutputContext], table: pa.Table) -> Any:
    return store_partition_range(root, {}, ArrowEngine(), contexts, Frame(table))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _stored_rows(path: str) -> list[dict[str, Any]]:
    return ds.dataset(path, format="parquet").to_table().to_pylist()


@pytest.fixture
def root(tmp_path: Path) -> StorageRoot:
    return StorageRoot.resolve(str(tmp_path / "lake"))


def test_each_partition_lands_in_its_own_directory_and_empty_ones_are_stored(
    root: StorageRoot,
) -> None:
    contexts = _contexts(
        {"day": "2024-01-01", "region": "eu"},
        {"day": "2024-01-01", "region": "us west"},
        {"day": "2024-01-02", "region": "eu"},
    )
    table = pa.table(
        {
            "day": ["2024-01-01", "2024-01-01", "2024-01-01"],
            "region": ["eu", "us west", "us west"],
            "amount": [1, 2, 3],
        }
    )

    metadata = _store(root, contexts, table)

    base = f"{root.root}/sales"
    paths = [m["path"] for m in metadata]
    assert paths == [
        f"{base}/day=2024-01-01/region=eu/data.parquet",
        f"{base}/day=2024-01-01/region=us%20west/data.parquet",
        f"{base}/day=2024-01-02/region=eu/data.parquet",
    ]
    assert [m["row_count"] for m in metadata] == [1, 2, 0]
    assert {m["engine"] for m in metadata} == {"arrow-test"}
    assert _stored_rows(paths[1]) == [{"amount": 2}, {"amount": 3}]
    assert pq.read_schema(next(Path(paths[2]).glob("*.parquet"))).names == ["amount"]
    assert (Path(paths[0]) / "_raystra_engine").read_text() == "arrow-test"
    # The asset reads back as one Hive dataset; nothing temporary is left beside it.
    whole = ds.dataset(base, format="parquet", partitioning="hive").to_table()
    assert sorted(whole["amount"].to_pylist()) == [1, 2, 3]
    assert [p.name for p in Path(root.root).iterdir()] == ["sales"]


def test_rows_of_other_partitions_fail_before_anything_is_replaced(root: StorageRoot) -> None:
    contexts = _contexts({"partition": "a"}, {"partition": "b"})
    _store(root, contexts, pa.table({"partition": ["a", "b"], "v": [1, 1]}))
    before = _files(Path(root.root))

    bad = pa.table({"partition": ["a", "z", None, "b"], "v": [2, 2, 2, 2]})
    with pytest.raises(RaystraError) as info:
        _store(root, contexts, bad)

    message = str(info.value)
    assert "Asset 'sales'" in message and "column 'partition'" in message
    assert "'z'" in message and "null" in message and "Nothing was stored" in message
    assert _files(Path(root.root)) == before


def test_a_failed_swap_puts_every_previous_value_back(
    root: StorageRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    contexts = _contexts({"partition": "a"}, {"partition": "b"}, {"partition": "c"})
    _store(root, contexts, pa.table({"partition": ["a", "b", "c"], "v": [1, 1, 1]}))
    before = _files(Path(root.root))
    real_mv = root.fs.mv
    moved: list[str] = []

    def mv(source: str, target: str, **kwargs: Any) -> None:
        moved.append(target)
        if target.endswith("partition=c/data.parquet") and "/_sales.tmp-" in source:
            raise OSError("disk full while moving partition c into place")
        real_mv(source, target, **kwargs)

    monkeypatch.setattr(root.fs, "mv", mv)
    with pytest.raises(OSError, match="disk full"):
        _store(root, contexts, pa.table({"partition": ["a", "b", "c"], "v": [2, 2, 2]}))
    monkeypatch.setattr(root.fs, "mv", real_mv)

    assert any(t.endswith("partition=b/data.parquet") for t in moved)  # b had been replaced
    assert _files(Path(root.root)) == before
    assert {row["v"] for c in contexts for row in _stored_rows(root.path(c, "parquet"))} == {1}


def test_one_partition_without_the_column_is_left_to_the_single_write(root: StorageRoot) -> None:
    [context] = _contexts({"partition": "a"})
    assert _store(root, [context], pa.table({"v": [1]})) is None
    assert not Path(root.root).exists()


def test_a_range_without_the_column_names_it(root: StorageRoot) -> None:
    contexts = _contexts({"partition": "a"}, {"partition": "b"})
    with pytest.raises(RaystraError, match=r"without the column\(s\) \['partition'\]"):
        _store(root, contexts, pa.table({"v": [1]}))
