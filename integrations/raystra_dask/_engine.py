"""Dask frames stored and loaded by Dask itself, as Parquet at the asset's location.

Found by raystra_io through the ``raystra.table_engines`` entry point. This module does not
import dask: raystra_io loads every installed engine to ask whether a value is its frame, and a
pipeline without Dask must not pay for importing it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from raystra.definitions import InputContext, OutputContext
from raystra_dask._scheduler import step_scheduler
from raystra_dask._storage import url_of, write_swapped
from raystra_io import EngineLocation, TableEngine

__all__ = ["DaskEngine"]

# dask.dataframe.DataFrame is dask-expr's collection (dask >= 2025.1); older dask-expr
# releases shipped it as a separate package, and legacy dask had dask.dataframe.core.
_FRAME_CLASSES = frozenset(
    {
        ("dask.dataframe.dask_expr._collection", "DataFrame"),
        ("dask_expr._collection", "DataFrame"),
        ("dask.dataframe.core", "DataFrame"),
    }
)


def _is_frame_class(tp: object) -> bool:
    if not isinstance(tp, type):
        return False
    return any(
        (getattr(cls, "__module__", ""), cls.__qualname__) in _FRAME_CLASSES for cls in tp.__mro__
    )


_ROWS_PER_PARTITION = 250_000


class DaskEngine(TableEngine):
    """Writes a Dask DataFrame with ``to_parquet`` and reads inputs with ``read_parquet``.

    Both go through fsspec with the IO manager's ``storage_options``; nothing is collected
    into one pandas frame. Work raystra starts (the write) runs on Ray's Dask scheduler when
    the step runs on Ray, on Dask's threaded scheduler otherwise, unless the step configured
    another one (see `DaskResource`).

    Example:
        >>> import dask.dataframe as dd
        >>> DaskEngine().handles_type(dd.DataFrame)
        True
    """

    name = "dask"

    def handles_type(self, tp: object) -> bool:
        """True for ``dask.dataframe.DataFrame`` (and subclasses), compared by name."""
        return _is_frame_class(tp)

    def handles_object(self, obj: object) -> bool:
        """True for a Dask DataFrame value."""
        return _is_frame_class(type(obj))

    def write(
        self, obj: Any, location: EngineLocation, context: OutputContext
    ) -> Mapping[str, Any]:
        """Let Dask write ``obj`` as a directory of Parquet files (one per Dask partition)."""
        meta = obj._meta  # an empty pandas frame with the columns and dtypes

        def to_parquet(url: str) -> None:
            obj.to_parquet(
                url,
                storage_options=dict(location.storage_options),
                # As pandas stores a frame: a named index is data, a default one is not.
                write_index=meta.index.name is not None,
            )

        with step_scheduler() as scheduler:
            write_swapped(location, to_parquet)
        context.log.debug(
            "dask wrote %s (%d partitions) on the %s scheduler",
            location.url,
            obj.npartitions,
            scheduler,
        )
        return {
            **_written_stats(location),
            "column_count": len(meta.columns),
            "schema": [{"name": f.name, "type": str(f.type)} for f in self.arrow_schema(obj)],
            "dask_partitions": obj.npartitions,
            "dask_scheduler": scheduler,
        }

    def read(self, location: EngineLocation, context: InputContext) -> Any:
        """A lazy Dask DataFrame over the stored Parquet file or directory.

        One stored partition reads as itself: Hive-style directory names above it
        (``partition=2024-01-01/``) do not become a column, as for the other table types.
        """
        import dask.dataframe as dd

        return dd.read_parquet(
            location.url,
            storage_options=dict(location.storage_options),
            dataset={"partition_base_dir": location.path},
        )

    def column_names(self, obj: Any) -> list[str]:
        """The frame's columns, from its meta (nothing is computed)."""
        return [str(name) for name in obj.columns]

    def read_partitions(
        self,
        locations: Sequence[EngineLocation],
        base: EngineLocation,
        contexts: Sequence[InputContext],
    ) -> Any:
        """One lazy Dask DataFrame over several stored partitions.

        Dask reads the partitions' Parquet files (a file written by pyarrow, or the files of
        a directory an engine wrote) and adds the partition column(s) from the Hive-style
        directory names below ``base``, as categoricals, as it does for a whole partitioned
        dataset read with ``dd.read_parquet``.
        """
        import dask.dataframe as dd

        files = [url_of(base, path) for location in locations for path in _parquet_files(location)]
        return dd.read_parquet(
            files,
            storage_options=dict(base.storage_options),
            dataset={"partition_base_dir": base.path},
        )

    def from_arrow(self, table: Any, context: InputContext) -> Any:
        """A Dask DataFrame over a table an upstream step handed over in memory.

        The table is already in this worker; splitting it lets the step's Dask graph run in
        parallel on Ray (about one partition per 250,000 rows).
        """
        import dask.dataframe as dd

        frame = table.to_pandas()
        parts = max(1, len(frame) // _ROWS_PER_PARTITION)
        return dd.from_pandas(frame, npartitions=parts)  # type: ignore[no-untyped-call]

    def arrow_schema(self, obj: Any) -> Any:
        """The Arrow schema Dask would write, from the frame's meta (nothing is computed)."""
        import pyarrow as pa

        # Dask's stand-in rows (e.g. "foo" for object columns) give Arrow a type to infer
        # where the empty meta would give it none.
        sample = obj._meta_nonempty
        return pa.Schema.from_pandas(sample, preserve_index=sample.index.name is not None)


def _parquet_files(location: EngineLocation) -> list[str]:
    """The Parquet files of a stored value: itself, or the visible files of its directory."""
    fs, path = location.filesystem, location.path
    if fs.isfile(path):
        return [path]
    return sorted(
        file
        for file in fs.find(path)
        if file.endswith(".parquet") and not posixpath.basename(file).startswith(("_", "."))
    )


def _written_stats(location: EngineLocation) -> dict[str, Any]:
    """Row count and size from the written files' footers and listing (no data is read)."""
    import pyarrow.dataset as ds

    fs, path = location.filesystem, location.path
    dataset = ds.dataset(path, filesystem=fs, format="parquet")
    return {"row_count": dataset.count_rows(), "byte_size": int(fs.du(path, total=True))}
