"""What the fsspec IO managers share: configuration, the two file formats, and loading."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar, Literal

import cloudpickle
import pyarrow as pa
import pyarrow.parquet as pq

from raystra.definitions import ConfigurableIOManager, InputContext, OutputContext
from raystra.errors import InputNotFoundError
from raystra_io._atomic import write_atomically
from raystra_io._engines import EngineLocation, TableEngine, engine_for, table_engines
from raystra_io._paths import StorageRoot
from raystra_io._tables import (
    TableKind,
    convert,
    from_arrow,
    kind_of_object,
    kind_of_type,
    stored_kind,
    table_shape,
    to_arrow,
)

__all__ = ["EXTENSIONS", "Format", "FsspecIOManager", "describe_output"]

Format = Literal["parquet", "pickle"]
EXTENSIONS: dict[Format, str] = {"parquet": "parquet", "pickle": "pkl"}


def describe_output(context: OutputContext) -> str:
    """Name an output for messages: the asset (and partition), or the run, step and output."""
    if context.asset_key is not None:
        label = f"asset {context.asset_key.to_user_string()!r}"
    else:
        label = (
            f"output {context.output_name!r} of step {context.step_key!r} in run {context.run_id!r}"
        )
    if context.partition_key is not None:
        label += f" partition {context.partition_key!r}"
    return label


def _fix_for(context: OutputContext) -> str:
    if context.asset_key is None:
        return (
            f"re-execute run {context.run_id!r} (its step {context.step_key!r} stores this "
            "output), or run the job so the producing op runs first."
        )
    command = f"raystra materialize --select {context.asset_key.to_user_string()}"
    if context.partition_key is not None:
        command += f" --partition {context.partition_key}"
    return f"materialize it first: {command}"


class FsspecIOManager(ConfigurableIOManager):
    """Base of the fsspec IO managers: where values live, atomic writes, loading either format.

    Subclasses implement ``handle_output`` with `_store_parquet` / `_store_pickle`. Both formats
    are readable by every subclass, so switching an asset's IO manager keeps its stored value
    loadable; a write deletes the other format's file once it committed.
    """

    base_path: str | None = None
    storage_options: dict[str, Any] = {}

    _read_order: ClassVar[tuple[Format, ...]] = ("parquet", "pickle")

    def storage(self) -> StorageRoot:
        """The resolved base location (``base_path``, else ``$RAYSTRA_HOME/storage``).

        Example:
            >>> from raystra_io import ParquetIOManager
            >>> ParquetIOManager(base_path="memory://docs").storage().root
            '/docs'
        """
        return StorageRoot.resolve(self.base_path, self.storage_options)

    def load_input(self, context: InputContext) -> Any:
        """Load the stored value of ``context.upstream_output`` in the form the input wants.

        A table is returned as ``context.expected_type`` when that is `pyarrow.Table`,
        ``pandas.DataFrame`` or ``polars.DataFrame``, else as the type that produced it.

        Raises:
            InputNotFoundError: Nothing is stored for the upstream output.
        """
        upstream = context.upstream_output
        root = self.storage()
        wanted = kind_of_type(context.expected_type)
        looked_at: list[str] = []
        for fmt in self._read_order:
            path = root.path(upstream, EXTENSIONS[fmt])
            if not root.is_local:
                # Object-store clients cache listings per process: a long-lived Ray worker
                # must see what another worker committed since it last listed the prefix.
                root.fs.invalidate_cache(path)
            if root.fs.exists(path):
                if fmt == "parquet":
                    engine = engine_for(annotation=context.expected_type)
                    if engine is None and wanted is None:
                        engine = _engine_that_wrote(root, path)
                    if engine is not None:
                        return engine.read(self._location(root, path), context)
                    return _read_parquet(root, path, wanted)
                return _read_pickle(root, path, wanted)
            looked_at.append(root.url(path))
        raise InputNotFoundError(
            f"Input {context.name!r} of step {context.step_key!r}: "
            f"{describe_output(upstream)} has no stored value (looked for "
            f"{' and '.join(looked_at)}). To fix, {_fix_for(upstream)}"
        )

    def adapt_handoff(self, context: InputContext, value: Any) -> Any:
        """``value``, handed over in memory, in the form ``context``'s input wants.

        A table handed to an input annotated with an engine's frame type (a pandas frame to a
        ``pyspark.sql.DataFrame`` input) becomes that engine's frame; anything else is
        returned unchanged.
        """
        engine = engine_for(annotation=context.expected_type)
        if engine is None or engine.handles_object(value):
            return value
        kind = kind_of_object(value)
        if kind is None:
            return value
        return engine.from_arrow(to_arrow(value, kind), context)

    def _location(self, root: StorageRoot, path: str) -> EngineLocation:
        return EngineLocation(
            url=root.url(path),
            storage_options=dict(self.storage_options),
            filesystem=root.fs,
            path=path,
        )

    def _store_with_engine(
        self, engine: TableEngine, context: OutputContext, obj: object
    ) -> dict[str, Any]:
        """Let ``engine`` write ``obj`` where a table would go, as a directory of Parquet."""
        root = self.storage()
        path = root.path(context, EXTENSIONS["parquet"])
        metadata = dict(engine.write(obj, self._location(root, path), context))
        # Which engine wrote it, for inputs without an annotation (files starting with "_"
        # are skipped by pyarrow, Spark and Dask readers).
        root.fs.pipe_file(f"{path}/{_ENGINE_MARKER}", engine.name.encode())
        pickled = root.path(context, EXTENSIONS["pickle"])
        if root.fs.exists(pickled):
            root.fs.rm(pickled)
        return {"path": root.url(path), "format": "parquet", "engine": engine.name, **metadata}

    def _store_parquet(self, context: OutputContext, table: pa.Table) -> dict[str, Any]:
        root = self.storage()
        path = root.path(context, EXTENSIONS["parquet"])
        size = write_atomically(
            root.fs,
            path,
            lambda temp: pq.write_table(table, temp, filesystem=root.fs),
            replaces=[root.path(context, EXTENSIONS["pickle"])],
        )
        return {
            "path": root.url(path),
            "format": "parquet",
            "byte_size": size,
            "row_count": table.num_rows,
            "column_count": table.num_columns,
            "schema": [{"name": field.name, "type": str(field.type)} for field in table.schema],
        }

    def _store_pickle(self, context: OutputContext, obj: object) -> dict[str, Any]:
        root = self.storage()
        path = root.path(context, EXTENSIONS["pickle"])

        def dump(temp: str) -> None:
            # Streamed to the file: a large object is never held twice in memory.
            with root.fs.open(temp, "wb") as file:
                cloudpickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)

        size = write_atomically(
            root.fs, path, dump, replaces=[root.path(context, EXTENSIONS["parquet"])]
        )
        metadata: dict[str, Any] = {"path": root.url(path), "format": "pickle", "byte_size": size}
        if kind_of_object(obj) is not None:
            metadata["row_count"], metadata["column_count"] = table_shape(obj)
        return metadata


_ENGINE_MARKER = "_raystra_engine"


def _engine_that_wrote(root: StorageRoot, path: str) -> TableEngine | None:
    """The engine whose marker is in the Parquet directory at ``path``, if it is one."""
    marker = f"{path}/{_ENGINE_MARKER}"
    if not root.fs.exists(marker):
        return None
    name = root.fs.cat_file(marker).decode()
    for engine in table_engines():
        if engine.name == name:
            return engine
    raise InputNotFoundError(
        f"{root.url(path)} was written by the {name!r} engine, which is not installed here. "
        f"Install raystra's {name} extra (pip install 'raystra[{name}]') where steps run, or "
        "annotate the input with pyarrow.Table, pandas.DataFrame or polars.DataFrame."
    )


def _read_parquet(root: StorageRoot, path: str, wanted: TableKind | None) -> Any:
    # Arrow reads through the filesystem (native for local disk) into Arrow buffers that Ray's
    # object store can share without copying.
    table = pq.read_table(path, filesystem=root.fs)
    return from_arrow(table, wanted or stored_kind(table))


def _read_pickle(root: StorageRoot, path: str, wanted: TableKind | None) -> Any:
    with root.fs.open(path, "rb") as file:
        obj = cloudpickle.load(file)
    return obj if wanted is None else convert(obj, wanted)
