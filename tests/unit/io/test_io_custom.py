"""A custom IO manager on raystra_io's fsspec base: its hooks see ``context.path``, and it
passes the shared conformance suite (layout, atomicity, missing inputs) without extra code."""

from __future__ import annotations

import json
import pickle
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest

from raystra import (
    AssetExecutionContext,
    ConfigurableResource,
    DailyPartitionsDefinition,
    asset,
    materialize,
)
from raystra.definitions import (
    AssetKey,
    InMemoryIOManager,
    InputContext,
    IOManager,
    OutputContext,
)
from raystra.errors import RaystraError
from raystra.events import AssetMaterialized
from raystra.testing.io_manager_suite import IOManagerConformance, input_for, output_for
from raystra_io import FsspecIOManager
from raystra_io._atomic import is_temp_name

# What the hooks saw: (hook, context.path, path argument). Steps run in this process.
SEEN: list[tuple[str, str, str]] = []


class PickleFiles(FsspecIOManager):
    """The smallest custom manager: stdlib pickle, one file per output."""

    extension: ClassVar[str] = "pickle"

    def dump_to_path(self, context: OutputContext, obj: Any, path: str) -> None:
        SEEN.append(("dump", context.path, path))
        with self.open(path, "wb") as file:
            pickle.dump(obj, file)

    def load_from_path(self, context: InputContext, path: str) -> Any:
        SEEN.append(("load", context.path, path))
        with self.open(path, "rb") as file:
            return pickle.load(file)


class JsonFiles(FsspecIOManager):
    """A manager whose hook reports metadata of its own."""

    extension: ClassVar[str] = "json"

    def dump_to_path(self, context: OutputContext, obj: Any, path: str) -> Mapping[str, Any]:
        SEEN.append(("dump", context.path, path))
        with self.open(path, "w") as file:
            json.dump(obj, file)
        return {"keys": len(obj)}

    def load_from_path(self, context: InputContext, path: str) -> Any:
        SEEN.append(("load", context.path, path))
        with self.open(path, "r") as file:
            return json.load(file)


@pytest.fixture(autouse=True)
def _forget() -> None:
    SEEN.clear()


class TestCustomManagerLocal(IOManagerConformance):
    converts_tables = False  # it pickles whatever it gets
    reports_table_metadata = False

    @pytest.fixture
    def io_manager(self, tmp_path: Path) -> IOManager:
        return PickleFiles(base_path=str(tmp_path))


class TestCustomManagerMemory(IOManagerConformance):
    converts_tables = False
    reports_table_metadata = False

    @pytest.fixture
    def io_manager(self) -> Iterator[IOManager]:
        root = f"memory://raystra-custom-{uuid.uuid4().hex}"
        yield PickleFiles(base_path=root)
        fs, path = fsspec.core.url_to_fs(root)
        if fs.exists(path):
            fs.rm(path, recursive=True)


def test_hooks_get_the_final_path_and_write_to_a_temporary_sibling(tmp_path: Path) -> None:
    io = JsonFiles(base_path=str(tmp_path))
    out = output_for(AssetKey(["raw", "orders"]), partition_key="2024-03-01")

    metadata = io.handle_output(out, {"a": 1, "b": 2})
    loaded = io.load_input(input_for(out))

    final = str(tmp_path / "raw" / "orders" / "partition=2024-03-01" / "data.json")
    (_, dumped_at, written_to), (_, loaded_from, read_from) = SEEN
    assert dumped_at == loaded_from == read_from == final
    # The hook wrote beside the final file, under a name readers skip; raystra moved it.
    assert written_to != final and is_temp_name(written_to)
    assert Path(written_to).parent == Path(final).parent
    assert metadata == {"path": final, "byte_size": Path(final).stat().st_size, "keys": 2}
    assert loaded == {"a": 1, "b": 2}


def test_path_is_a_full_url_on_other_filesystems() -> None:
    bucket = f"raystra-custom-{uuid.uuid4().hex}"
    io = JsonFiles(base_path=f"memory://{bucket}")
    out = output_for(AssetKey("config"))

    metadata = io.handle_output(out, {"threshold": 3})
    io.load_input(input_for(out))

    url = f"memory:///{bucket}/config.json"
    assert metadata is not None and metadata["path"] == url
    assert {context_path for _, context_path, _ in SEEN} == {url}
    assert {path for hook, _, path in SEEN if hook == "load"} == {url}


daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")


@asset(partitions_def=daily, io_manager_key="json")
def daily_counts(context: AssetExecutionContext) -> dict[str, int]:
    return {"day": int(context.partition_key[-2:])}


@asset(partitions_def=daily)
def doubled(daily_counts: dict[str, int]) -> dict[str, int]:
    return {"day": daily_counts["day"] * 2}


def test_in_a_run_the_hooks_see_the_path_recorded_in_the_materialization(
    raystra_home: Path, tmp_path: Path
) -> None:
    resources = {"json": JsonFiles(base_path=str(tmp_path / "lake"))}
    built = materialize([daily_counts], resources=resources, partition_key="2024-01-02")
    # A later run loads it from storage, through the same manager.
    materialize(
        [daily_counts, doubled],
        resources=resources,
        partition_key="2024-01-02",
        selection="doubled",
    )

    [event] = [e for e in built.events if isinstance(e, AssetMaterialized)]
    expected = str(tmp_path / "lake" / "daily_counts" / "partition=2024-01-02" / "data.json")
    assert event.metadata["path"] == expected
    assert event.metadata["keys"] == 1
    assert [(hook, path) for hook, path, _ in SEEN] == [("dump", expected), ("load", expected)]


def test_a_context_without_a_path_says_which_value_and_why() -> None:
    out = OutputContext(
        run_id="r1", step_key="orders", asset_key=AssetKey("orders"), partition_key="eu"
    )
    assert not out.has_path
    with pytest.raises(RaystraError, match=r"Asset 'orders' partition 'eu' has no storage path"):
        _ = out.path
    with pytest.raises(RaystraError, match="FsspecIOManager"):
        _ = InputContext(name="orders", step_key="report", upstream_output=out).path

    # An IO manager that keeps values in memory never sets one; its contexts still work.
    memory = InMemoryIOManager()
    memory.handle_output(out, [1, 2])
    assert memory.load_input(input_for(out)) == [1, 2]


def test_with_path_copies_the_context() -> None:
    out = output_for(AssetKey("orders"))
    located = input_for(out).with_path("s3://lake/orders.parquet")

    assert located.path == located.upstream_output.path == "s3://lake/orders.parquet"
    assert located.has_path and not out.has_path
    assert located.upstream_output.asset_key == out.asset_key


def test_hooks_must_be_implemented(tmp_path: Path) -> None:
    with pytest.raises(NotImplementedError, match="FsspecIOManager must implement dump_to_path"):
        FsspecIOManager(base_path=str(tmp_path)).handle_output(output_for(), {"a": 1})


class Codec(ConfigurableResource):
    name: str = "gzip"


class CompressedJsonFiles(JsonFiles):
    """Finds the codec among the step's resources by type, whatever its key."""

    def dump_to_path(self, context: OutputContext, obj: Any, path: str) -> Mapping[str, Any]:
        codecs = [r for _, r in context.resources.items() if isinstance(r, Codec)]
        keys = sorted(context.resources)
        super().dump_to_path(context, obj, path)
        return {
            "codec": codecs[0].name,
            "resource_keys": keys,
            "missing": context.resources.get("x"),
        }


@asset(io_manager_key="json", required_resource_keys={"compression"})
def settings() -> dict[str, int]:
    return {"retries": 3}


def test_an_io_manager_finds_a_resource_by_type(tmp_path: Path) -> None:
    result = materialize(
        [settings],
        resources={
            "json": CompressedJsonFiles(base_path=str(tmp_path)),
            "compression": Codec(name="zstd"),
        },
    )

    [event] = [e for e in result.events if isinstance(e, AssetMaterialized)]
    assert event.metadata["codec"] == "zstd"
    assert event.metadata["resource_keys"] == ["compression", "json"]
    assert event.metadata["missing"] is None
