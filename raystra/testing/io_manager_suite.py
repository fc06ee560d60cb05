"""The conformance suite every IO manager passes.

Subclass `IOManagerConformance` in a test module, name the subclass ``Test...`` and override the
``io_manager`` fixture to return a fresh manager storing under ``tmp_path`` (or another empty
location, such as a fresh prefix in an S3 bucket). Class attributes switch off the parts a
manager does not claim: an in-memory manager has no files to be atomic about. A manager whose
store needs options to reach it (credentials, an endpoint) also overrides `filesystem`.

Example:
    >>> class TestParquetLocal(IOManagerConformance):  # doctest: +SKIP
    ...     @pytest.fixture
    ...     def io_manager(self, tmp_path):
    ...         return ParquetIOManager(base_path=str(tmp_path))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest

from raystra.definitions._io_manager import InputContext, IOManager, OutputContext
from raystra.definitions._keys import AssetKey
from raystra.errors import InputNotFoundError

__all__ = ["ExplodingOnPickle", "IOManagerConformance", "as_columns", "input_for", "output_for"]

ORDERS = AssetKey(["raw", "orders"])
COLUMNS: dict[str, list[Any]] = {
    "id": [1, 2, 3],
    "amount": [1.5, 2.5, 3.5],
    "name": ["a", "b", "c"],
}
TABLE_KINDS = ("pyarrow", "pandas", "polars")


class ExplodingOnPickle:
    """Raises when pickled: put it after a large value to fail a write half-way through."""

    def __reduce__(self) -> str:
        raise RuntimeError("boom: serialisation failed half-way")


def half_written_value() -> dict[str, object]:
    """A value whose serialisation writes megabytes before it raises."""
    return {"blob": b"x" * 4_000_000, "bad": ExplodingOnPickle()}


def output_for(
    key: AssetKey | None = ORDERS,
    *,
    run_id: str = "run_1",
    step_key: str = "step",
    output_name: str = "result",
    partition_key: str | None = None,
) -> OutputContext:
    """An `OutputContext` for an asset output, or for an op output when ``key`` is None."""
    return OutputContext(
        run_id=run_id,
        step_key=step_key,
        output_name=output_name,
        asset_key=key,
        partition_key=partition_key,
    )


def input_for(upstream: OutputContext, expected_type: Any = None) -> InputContext:
    """An `InputContext` that loads ``upstream``, annotated ``expected_type``."""
    return InputContext(
        name="upstream",
        step_key="downstream",
        upstream_output=upstream,
        expected_type=expected_type,
        partition_key=upstream.partition_key,
    )


def make_table(kind: str) -> Any:
    """The sample table `COLUMNS` as a pyarrow, pandas or polars table."""
    if kind == "pyarrow":
        return pytest.importorskip("pyarrow").table(COLUMNS)
    return pytest.importorskip(kind).DataFrame(COLUMNS)


def table_type(kind: str) -> Any:
    """The class of a table of ``kind``."""
    return type(make_table(kind))


def as_columns(table: Any) -> dict[str, list[Any]]:
    """A table of any kind as plain ``{column: values}``, to compare across libraries."""
    if hasattr(table, "to_pydict"):
        columns: dict[str, list[Any]] = table.to_pydict()
        return columns
    if hasattr(table, "to_dict") and hasattr(table, "iloc"):
        return {str(name): list(values) for name, values in table.to_dict(orient="list").items()}
    return {str(name): list(values) for name, values in table.to_dict(as_series=False).items()}


class IOManagerConformance:
    """Behaviour every IO manager shares; subclasses provide the ``io_manager`` fixture.

    Attributes:
        supports_tables: Stores pyarrow/pandas/polars tables and loads them back as their type.
        converts_tables: Loads a table as the kind an input's ``expected_type`` names.
        persists: Writes files; checks atomicity and the ``path``/``byte_size`` metadata.
        reports_table_metadata: ``handle_output`` returns ``row_count`` for tables.
    """

    supports_tables: ClassVar[bool] = True
    converts_tables: ClassVar[bool] = True
    persists: ClassVar[bool] = True
    reports_table_metadata: ClassVar[bool] = True

    @pytest.fixture
    def io_manager(self, tmp_path: Path) -> IOManager:
        """Override: a fresh IO manager storing under ``tmp_path``."""
        raise NotImplementedError(f"{type(self).__name__} must override the io_manager fixture")

    def filesystem(self, url: str) -> tuple[Any, str]:
        """The fsspec filesystem and path for ``url``, a ``path`` from the manager's metadata.

        Override for stores that need options, e.g. an S3 endpoint and credentials::

            def filesystem(self, url):
                return fsspec.core.url_to_fs(url, **S3_OPTIONS)
        """
        fs, path = fsspec.core.url_to_fs(url)
        return fs, str(path)

    def _listing(self, url: str) -> list[str]:
        """The names beside the stored value at ``url`` (a temporary file left would show)."""
        fs, path = self.filesystem(url)
        parent = path.rsplit("/", 1)[0]
        # Object-store clients cache listings; what counts is what the store holds now.
        fs.invalidate_cache(parent)
        return sorted(str(name) for name in fs.ls(parent, detail=False))

    def _require(self, *flags: str) -> None:
        for flag in flags:
            if not getattr(self, flag):
                pytest.skip(f"{type(self).__name__}.{flag} is False")

    # Round trips -------------------------------------------------------------------------

    def test_round_trip_python_object(self, io_manager: IOManager) -> None:
        value = {"rows": [1, 2, 3], "label": "orders", "nested": {"ok": True}}
        io_manager.handle_output(output_for(), value)
        assert io_manager.load_input(input_for(output_for())) == value

    @pytest.mark.parametrize("kind", TABLE_KINDS)
    def test_table_loads_as_its_own_type(self, io_manager: IOManager, kind: str) -> None:
        self._require("supports_tables")
        io_manager.handle_output(output_for(), make_table(kind))
        loaded = io_manager.load_input(input_for(output_for()))
        assert type(loaded) is table_type(kind)
        assert as_columns(loaded) == COLUMNS

    @pytest.mark.parametrize("stored", TABLE_KINDS)
    @pytest.mark.parametrize("wanted", TABLE_KINDS)
    def test_table_loads_as_expected_type(
        self, io_manager: IOManager, stored: str, wanted: str
    ) -> None:
        self._require("supports_tables", "converts_tables")
        io_manager.handle_output(output_for(), make_table(stored))
        loaded = io_manager.load_input(input_for(output_for(), table_type(wanted)))
        assert type(loaded) is table_type(wanted)
        assert as_columns(loaded) == COLUMNS

    def test_unrelated_annotation_keeps_stored_type(self, io_manager: IOManager) -> None:
        self._require("supports_tables")
        io_manager.handle_output(output_for(), make_table("pyarrow"))
        loaded = io_manager.load_input(input_for(output_for(), dict))
        assert type(loaded) is table_type("pyarrow")

    def test_new_value_replaces_old_one(self, io_manager: IOManager) -> None:
        io_manager.handle_output(output_for(), {"version": 1})
        io_manager.handle_output(output_for(), {"version": 2})
        assert io_manager.load_input(input_for(output_for())) == {"version": 2}

    def test_switching_format_loads_latest_value(self, io_manager: IOManager) -> None:
        self._require("supports_tables")
        io_manager.handle_output(output_for(), make_table("pyarrow"))
        io_manager.handle_output(output_for(), {"now": "a dict"})
        assert io_manager.load_input(input_for(output_for())) == {"now": "a dict"}
        io_manager.handle_output(output_for(), make_table("pyarrow"))
        assert as_columns(io_manager.load_input(input_for(output_for()))) == COLUMNS

    # Addressing ----------------------------------------------------------------------------

    def test_assets_are_stored_separately(self, io_manager: IOManager) -> None:
        other = output_for(AssetKey(["raw", "customers"]))
        io_manager.handle_output(output_for(), {"asset": "orders"})
        io_manager.handle_output(other, {"asset": "customers"})
        assert io_manager.load_input(input_for(output_for())) == {"asset": "orders"}
        assert io_manager.load_input(input_for(other)) == {"asset": "customers"}

    def test_op_outputs_are_addressed_by_run_step_and_output(self, io_manager: IOManager) -> None:
        first = output_for(None, run_id="run_1", step_key="clean")
        second = output_for(None, run_id="run_2", step_key="clean")
        other_output = output_for(None, run_id="run_1", step_key="clean", output_name="rejects")
        io_manager.handle_output(first, [1])
        io_manager.handle_output(second, [2])
        io_manager.handle_output(other_output, [3])
        assert io_manager.load_input(input_for(first)) == [1]
        assert io_manager.load_input(input_for(second)) == [2]
        assert io_manager.load_input(input_for(other_output)) == [3]

    def test_partitions_are_stored_separately(self, io_manager: IOManager) -> None:
        keys = ["2024-03-01", "2024-03-02", "eu|2024-03-01"]
        for key in keys:
            io_manager.handle_output(output_for(partition_key=key), {"partition": key})
        for key in keys:
            loaded = io_manager.load_input(input_for(output_for(partition_key=key)))
            assert loaded == {"partition": key}
        with pytest.raises(FileNotFoundError):
            io_manager.load_input(input_for(output_for(partition_key="2024-03-03")))

    # Missing inputs ------------------------------------------------------------------------

    def test_missing_asset_raises_input_not_found_naming_it(self, io_manager: IOManager) -> None:
        with pytest.raises(InputNotFoundError) as info:
            io_manager.load_input(input_for(output_for()))
        message = str(info.value)
        assert "raw/orders" in message
        assert "materialize" in message.lower()

    def test_missing_op_output_names_run_and_step(self, io_manager: IOManager) -> None:
        with pytest.raises(InputNotFoundError) as info:
            io_manager.load_input(input_for(output_for(None, run_id="run_9", step_key="clean")))
        assert "run_9" in str(info.value)
        assert "clean" in str(info.value)

    # Atomicity -----------------------------------------------------------------------------

    def test_failed_write_keeps_previous_value(self, io_manager: IOManager) -> None:
        self._require("persists")
        metadata = io_manager.handle_output(output_for(), {"version": 1})
        assert metadata is not None
        before = self._listing(metadata["path"])
        with pytest.raises(RuntimeError, match="boom"):
            io_manager.handle_output(output_for(), half_written_value())
        assert self._listing(metadata["path"]) == before, "a temporary file was left behind"
        assert io_manager.load_input(input_for(output_for())) == {"version": 1}

    def test_failed_write_of_other_format_keeps_table(self, io_manager: IOManager) -> None:
        self._require("persists", "supports_tables")
        metadata = io_manager.handle_output(output_for(), make_table("pyarrow"))
        assert metadata is not None
        before = self._listing(metadata["path"])
        with pytest.raises(RuntimeError, match="boom"):
            io_manager.handle_output(output_for(), half_written_value())
        assert self._listing(metadata["path"]) == before
        assert as_columns(io_manager.load_input(input_for(output_for()))) == COLUMNS

    def test_failed_first_write_leaves_nothing(self, io_manager: IOManager) -> None:
        self._require("persists")
        anchor = io_manager.handle_output(output_for(AssetKey("anchor")), 1)
        assert anchor is not None
        before = self._listing(anchor["path"])
        with pytest.raises(RuntimeError, match="boom"):
            io_manager.handle_output(output_for(AssetKey("fresh")), half_written_value())
        assert self._listing(anchor["path"]) == before
        with pytest.raises(InputNotFoundError):
            io_manager.load_input(input_for(output_for(AssetKey("fresh"))))

    # Metadata ------------------------------------------------------------------------------

    def test_metadata_names_the_committed_file(self, io_manager: IOManager) -> None:
        self._require("persists")
        metadata = io_manager.handle_output(output_for(), {"version": 1})
        assert metadata is not None
        fs, path = self.filesystem(metadata["path"])
        assert fs.isfile(path)
        assert metadata["byte_size"] == fs.size(path) > 0

    def test_table_metadata_counts_rows(self, io_manager: IOManager) -> None:
        self._require("supports_tables", "reports_table_metadata")
        for kind in TABLE_KINDS:
            metadata = io_manager.handle_output(output_for(), make_table(kind))
            assert metadata is not None
            assert metadata["row_count"] == 3
