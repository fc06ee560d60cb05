"""The default IO manager: tables as Parquet, anything else pickled, on any fsspec filesystem."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from raystra.definitions import OutputContext
from raystra_io._base import TableFilesIOManager, describe_output
from raystra_io._engines import engine_for
from raystra_io._ranges import store_partition_range
from raystra_io._tables import kind_of_object, to_arrow

__all__ = ["ParquetIOManager"]


class ParquetIOManager(TableFilesIOManager):
    """Stores tables as Parquet and other values as cloudpickle files, atomically.

    A `pyarrow.Table`, ``pandas.DataFrame`` or ``polars.DataFrame`` is written as Parquet with
    the producing library recorded in the schema metadata (``raystra.python_type``), and loaded
    back as that type, or as the type an input's annotation names. Spark and Dask DataFrames
    are written and read by their engine (``docs/spark.md``, ``docs/dask.md``), including one
    Spark frame covering a range of partitions. Other objects are pickled.
    Paths: ``<base>/<key parts>.parquet``, ``<base>/<key parts>/partition=<key>/data.parquet``
    for a partition, ``<base>/runs/<run_id>/<step_key>/<output_name>.<ext>`` for op outputs.

    Attributes:
        base_path: Any fsspec URL or local path; default ``$RAYSTRA_HOME/storage``.
        storage_options: Passed to the fsspec filesystem (e.g. ``{"anon": True}`` for s3fs).

    Example:
        >>> import pyarrow as pa
        >>> from raystra.definitions import AssetKey, InputContext, OutputContext
        >>> io = ParquetIOManager(base_path="memory://parquet-example")
        >>> out = OutputContext(run_id="r1", step_key="orders", asset_key=AssetKey("orders"))
        >>> io.handle_output(out, pa.table({"id": [1, 2]}))["row_count"]
        2
        >>> io.load_input(InputContext(name="orders", step_key="report", upstream_output=out))
        pyarrow.Table
        id: int64
        ----
        id: [[1,2]]
    """

    def handle_output(self, context: OutputContext, obj: Any) -> Mapping[str, Any] | None:
        """Store ``obj`` (None stores nothing); return path, format, size and table stats."""
        if obj is None:
            return {}
        kind = kind_of_object(obj)
        if kind is None:
            engine = engine_for(value=obj)
            if engine is not None:  # a Spark or Dask frame: the engine writes it itself
                return self._store_with_engine(engine, context, obj)
            return self._store_pickle(context, obj)
        try:
            table = to_arrow(obj, kind)
        except pa.ArrowException as err:
            err.add_note(
                f"While storing {describe_output(context)} as Parquet: make the column's values "
                "one type (e.g. cast an object column), or give this asset PickleIOManager."
            )
            raise
        return self._store_parquet(context, table)

    def handle_output_partitions(
        self, contexts: Sequence[OutputContext], obj: Any
    ) -> Sequence[Mapping[str, Any]] | None:
        """Store one Spark DataFrame covering several partitions, in one Spark write.

        The frame carries the partition column(s) (``partition``, or one per dimension of a
        multi-partition key, as in the storage path). Spark writes it once with
        ``partitionBy`` and dynamic partition overwrite into a staging directory; each
        partition directory is then checked (rows of partitions outside ``contexts`` fail the
        step before anything is replaced) and swapped into its partition's path. Partitions
        outside the range are not touched; one of the range without rows is stored empty.
        Other values (and engines that cannot write partitioned datasets) give None.
        """
        engine = engine_for(value=obj)
        if engine is None or not contexts:
            return None
        return store_partition_range(self.storage(), self.storage_options, engine, contexts, obj)
