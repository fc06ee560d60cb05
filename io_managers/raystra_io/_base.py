"""What the Parquet and pickle IO managers share: the two file formats, engines, and loading."""

from __future__ import annotations

import dataclasses
import pickle
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import cloudpickle
import pyarrow as pa
import pyarrow.parquet as pq

from raystra.definitions import InputContext, OutputContext
from raystra.errors import InputNotFoundError
from raystra_io._atomic import write_atomically
from raystra_io._engines import EngineLocation, TableEngine, engine_for, table_engines
from raystra_io._fsspec import FsspecStorage, describe_output, missing_input_error
from raystra_io._paths import StorageRoot
from raystra_io._ranges import ENGINE_MARKER
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

__all__ = ["EXTENSIONS", "Format", "TableFilesIOManager", "describe_output"]

Format = Literal["parquet", "pickle"]
EXTENSIONS: dict[Format, str] = {"parquet": "parquet", "pickle": "pkl"}


class TableFilesIOManager(FsspecStorage):
    """Base of the Parquet and pickle IO managers: either format, engines, loading by type.

    Subclasses implement ``handle_output`` with `_store_parquet` / `_store_pickle`. Both formats
    are readable by every subclass, so switching an asset's IO manager keeps its stored value
    loadable; a write deletes the other format's file once it committed.
    """

    _read_order: ClassVar[tuple[Format, ...]] = ("parquet", "pickle")

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
                        location = self._location(root, path)
                        return engine.read(location, context.with_path(location.url))
                    return _read_parquet(root, path, wanted)
                return _read_pickle(root, path, wanted)
            looked_at.append(root.url(path))
        raise missing_input_error(context, looked_at)

    def load_input_partitions(self, contexts: Sequence[InputContext]) -> Any:
        """Several partitions of an upstream asset as one Spark or Dask DataFrame.

        When the input is annotated with an engine's frame type (``pyspark.sql.DataFrame``,
        ``dask.dataframe.DataFrame``) and reads two or more partitions, or has no annotation
        and one engine wrote every partition, that engine reads all their stored Parquet as
        one lazy frame, with the partition column(s) it finds in the Hive-style paths (as
        it does for a whole partitioned dataset): nothing passes through the step's process.
        An input annotated ``dict[str, <frame type>]`` gets ``{partition key: frame}``
        instead, even for one partition. Anything else is left to raystra (``NotImplemented``):
        each partition loaded with `load_input`, tables combined into one.
        """
        if not contexts:
            return NotImplemented
        annotation = contexts[0].expected_type
        per_partition = _dict_value_type(annotation)
        if per_partition is not None:
            if engine_for(annotation=per_partition) is None:
                return NotImplemented
            return {
                context.upstream_output.partition_key: self.load_input(
                    dataclasses.replace(context, expected_type=per_partition)
                )
                for context in contexts
            }
        if len(contexts) < 2:
            return NotImplemented  # one partition arrives as itself, from load_input
        root = self.storage()
        if annotation is None:  # what the producer returned: one engine's frames, or not
            first = root.path(contexts[0].upstream_output, EXTENSIONS["parquet"])
            if not root.is_local:
                root.fs.invalidate_cache(first)  # see load_input
            engine = _engine_that_wrote(root, first)
        else:
            engine = engine_for(annotation=annotation)
        if engine is None:
            return NotImplemented
        paths = _stored_parquet(root, contexts)
        if paths is None:  # a partition is pickled or missing: load_input reads or reports it
            return NotImplemented
        if annotation is None and any(_engine_that_wrote(root, p) is not engine for p in paths):
            return NotImplemented
        locations = [self._location(root, path) for path in paths]
        base = self._location(root, root.partitions_dir(contexts[0].upstream_output))
        with_paths = [c.with_path(loc.url) for c, loc in zip(contexts, locations, strict=True)]
        return engine.read_partitions(locations, base, with_paths)

    def adapts_handoff_to(self, expected_type: Any) -> bool:
        """Whether `adapt_handoff` may change a value handed to an input of this type.

        Only inputs annotated with an engine's frame type are converted; the step runner
        skips building an input context for every other input (most of them).
        """
        return engine_for(annotation=expected_type) is not None

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
        location = self._location(root, path)
        metadata = dict(engine.write(obj, location, context.with_path(location.url)))
        # Which engine wrote it, for inputs without an annotation (files starting with "_"
        # are skipped by pyarrow, Spark and Dask readers).
        root.fs.pipe_file(f"{path}/{ENGINE_MARKER}", engine.name.encode())
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
            sweep=context.earlier_attempt_lost,
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
            root.fs,
            path,
            dump,
            replaces=[root.path(context, EXTENSIONS["parquet"])],
            sweep=context.earlier_attempt_lost,
        )
        metadata: dict[str, Any] = {"path": root.url(path), "format": "pickle", "byte_size": size}
        if kind_of_object(obj) is not None:
            metadata["row_count"], metadata["column_count"] = table_shape(obj)
        return metadata


def _dict_value_type(annotation: object) -> Any:
    """``T`` for an annotation ``dict[str, T]`` (or ``Mapping[str, T]``), else None."""
    if typing.get_origin(annotation) not in (dict, Mapping):
        return None
    args = typing.get_args(annotation)
    return args[1] if len(args) == 2 else None


def _stored_parquet(root: StorageRoot, contexts: Sequence[InputContext]) -> list[str] | None:
    """The Parquet path of each upstream partition; None if one is not stored as Parquet."""
    paths: list[str] = []
    for context in contexts:
        path = root.path(context.upstream_output, EXTENSIONS["parquet"])
        if not root.is_local:
            root.fs.invalidate_cache(path)  # see load_input
        if not root.fs.exists(path):
            return None
        paths.append(path)
    return paths


def _engine_that_wrote(root: StorageRoot, path: str) -> TableEngine | None:
    """The engine whose marker is in the Parquet directory at ``path``, if it is one."""
    marker = f"{path}/{ENGINE_MARKER}"
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
