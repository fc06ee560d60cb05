"""One engine frame covering several partitions of an asset, stored in one write.

A step covering a range of partitions (a single-run ``BackfillPolicy``) may return one Spark
DataFrame with the partition column(s) instead of one frame per partition. Storing it:

1. The engine writes the whole frame once, as a Hive-partitioned dataset, into a staging
   directory beside the asset's directory (``_<asset>.tmp-<hex>``, which no reader lists);
   Spark does this with ``partitionBy`` and dynamic partition overwrite.
2. The partition directories found there are checked against the partitions being stored. A
   value outside them (or a null) fails the step with the asset, the column and example
   values, after the staging directory is removed: nothing was replaced.
3. A partition of the range without rows is stored empty (the step did materialize it).
4. Each staged directory is moved to its partition's own path
   (``<asset>/partition=<key>/data.parquet/``), the previous value being moved aside first. If a
   move fails, the partitions already moved get their previous values back; previous values
   are deleted only once every partition is in place. Partitions outside the range are never
   touched.

On local disk every move is a rename. Object stores have no rename: fsspec copies and deletes
object by object, as for the single-partition swap (see ``docs/storage.md``).
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from raystra.definitions import OutputContext
from raystra.errors import RaystraError
from raystra_io._atomic import temp_sibling
from raystra_io._engines import EngineLocation, TableEngine
from raystra_io._paths import StorageRoot, is_object_store

__all__ = ["ENGINE_MARKER", "HIVE_NULL", "parquet_stats", "store_partition_range"]

ENGINE_MARKER = "_raystra_engine"
"""File in an engine-written Parquet directory naming the engine (readers skip ``_`` files)."""

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
"""The directory value Spark and Hive write for a null partition value."""

_EXAMPLES = 5

Values = tuple[str | None, ...]


def store_partition_range(
    root: StorageRoot,
    storage_options: Mapping[str, Any],
    engine: TableEngine,
    contexts: Sequence[OutputContext],
    obj: Any,
) -> list[dict[str, Any]] | None:
    """Store ``obj`` for every partition in ``contexts`` (see the module docstring).

    Returns each partition's metadata, in ``contexts`` order, or None (nothing written) when
    ``engine`` cannot write a partitioned dataset, or when ``obj`` for a single partition has
    no partition column: it is that partition's own frame, stored as usual.

    Raises:
        RaystraError: ``obj`` lacks a partition column, or has rows for other partitions.
    """
    first = contexts[0]
    columns = list(_dimensions(first))
    names = engine.column_names(obj)
    if names is not None and not set(columns) <= set(names):
        if len(contexts) == 1:  # one partition's own frame: the caller stores it as it is
            return None
        raise RaystraError(
            f"Asset {_asset(first)!r} runs for {_range(contexts)} in one step and returned a "
            f"{engine.name} DataFrame without the column(s) {columns} naming each row's "
            f"partition (it has {names}). Add them (one value per row, as in "
            "context.partition_keys), or return a dict keyed by partition key."
        )
    fs = root.fs
    staging = temp_sibling(root.partitions_dir(first))
    try:
        shared = engine.write_partitioned(
            obj,
            _location(root, storage_options, staging),
            columns,
            first.with_path(root.url(root.path(first, "parquet"))),
        )
        if shared is None:
            return None
        staged = _staged(root, staging, columns, contexts, engine, obj)
        metadata: list[dict[str, Any]] = []
        moves: list[tuple[str, str]] = []
        for context, path in zip(contexts, staged, strict=True):
            # Marked before the swap: the swap is the only change readers can see.
            fs.pipe_file(f"{path}/{ENGINE_MARKER}", engine.name.encode())
            final = root.path(context, "parquet")
            moves.append((path, final))
            metadata.append(
                {
                    "path": root.url(final),
                    "format": "parquet",
                    "engine": engine.name,
                    **shared,
                    **parquet_stats(fs, path),
                }
            )
        _swap_all(root, moves)
    finally:
        with contextlib.suppress(Exception):  # cleanup must not hide the write's own error
            if fs.exists(staging):
                fs.rm(staging, recursive=True)
    for context in contexts:
        pickled = root.path(context, "pkl")  # the same partition stored in the other format
        if fs.exists(pickled):
            fs.rm(pickled)
    return metadata


def parquet_stats(fs: Any, path: str) -> dict[str, int]:
    """``row_count`` and ``byte_size`` of the Parquet file or directory at ``path``, from the
    footers (no data is read); hidden files (``_``, ``.``) are skipped as readers skip them.

    Example:
        >>> import fsspec, pyarrow as pa, pyarrow.parquet as pq
        >>> fs = fsspec.filesystem("memory")
        >>> with fs.open("/stats/part-0.parquet", "wb") as file:
        ...     pq.write_table(pa.table({"n": [1, 2]}), file)
        >>> parquet_stats(fs, "/stats")["row_count"]
        2
    """
    import pyarrow.parquet as pq

    files = [path] if fs.isfile(path) else fs.find(path)
    rows = size = 0
    for file in files:
        base = posixpath.basename(file)
        if base.startswith(("_", ".")) or not base.endswith(".parquet"):
            continue
        with fs.open(file, "rb") as handle:
            rows += pq.ParquetFile(handle).metadata.num_rows
        size += int(fs.size(file))
    return {"row_count": rows, "byte_size": size}


def _location(root: StorageRoot, storage_options: Mapping[str, Any], path: str) -> EngineLocation:
    return EngineLocation(
        url=root.url(path), storage_options=dict(storage_options), filesystem=root.fs, path=path
    )


def _staged(
    root: StorageRoot,
    staging: str,
    columns: list[str],
    contexts: Sequence[OutputContext],
    engine: TableEngine,
    obj: Any,
) -> list[str]:
    """The staged directory of each partition in ``contexts`` (empty ones made here).

    Raises:
        RaystraError: The engine wrote partitions that are not in ``contexts``.
    """
    if not root.is_local:
        root.fs.invalidate_cache(staging)  # the engine wrote it, not this client
    found = _partition_dirs(root.fs, staging, columns)
    wanted: dict[Values, OutputContext] = {
        tuple(_dimensions(c)[column] for column in columns): c for c in contexts
    }
    outside = sorted((values for values in found if values not in wanted), key=str)
    if outside:
        raise RaystraError(_outside_message(contexts, columns, outside))
    staged: list[str] = []
    for index, (values, _) in enumerate(wanted.items()):
        if values in found:
            staged.append(found[values])
        else:
            staged.append(_write_empty(root, f"{staging}/_empty-{index}", engine, obj, columns))
    return staged


def _partition_dirs(fs: Any, staging: str, columns: list[str]) -> dict[Values, str]:
    """Partition values -> directory, for the ``col=value`` directories nested in ``staging``.

    Values are decoded as Spark and Arrow encode them (``%3A`` for ``:``); a null is None.
    """
    level: list[tuple[str, Values]] = [(staging, ())]
    for column in columns:
        prefix = f"{column}="
        deeper: list[tuple[str, Values]] = []
        for directory, values in level:
            for entry in fs.ls(directory, detail=True):
                name = posixpath.basename(entry["name"].rstrip("/"))
                if entry["type"] != "directory" or not name.startswith(prefix):
                    continue
                raw = name[len(prefix) :]
                value = None if raw == HIVE_NULL else unquote(raw)
                deeper.append((entry["name"].rstrip("/"), (*values, value)))
        level = deeper
    return {values: directory for directory, values in level}


def _write_empty(
    root: StorageRoot, path: str, engine: TableEngine, obj: Any, columns: list[str]
) -> str:
    """An empty Parquet file at ``path``/, with ``obj``'s columns except ``columns``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = engine.arrow_schema(obj)
    if schema is None:
        raise RaystraError(
            f"A partition of the range has no rows, and raystra cannot write it empty: the "
            f"{engine.name} frame's schema has no Arrow equivalent. Mark such partitions with "
            "context.fail_partition(key, reason) to keep their previous value."
        )
    for name in columns:
        schema = schema.remove(schema.get_field_index(name))
    if not is_object_store(root.fs):  # object stores have no directories to make
        root.fs.makedirs(path, exist_ok=True)
    with root.fs.open(f"{path}/part-00000-empty.parquet", "wb") as file:
        pq.write_table(pa.Table.from_batches([], schema=schema.remove_metadata()), file)
    return path


def _swap_all(root: StorageRoot, moves: list[tuple[str, str]]) -> None:
    """Move each staged directory to its final path, all or (best effort) none."""
    fs = root.fs
    done: list[tuple[str, str | None]] = []  # final path, its previous value moved aside
    try:
        for staged, final in moves:
            if not root.is_local:
                fs.invalidate_cache(final)  # another worker may have written it since
            old = None
            if fs.exists(final):
                old = temp_sibling(final)
                fs.mv(final, old, recursive=True)
            done.append((final, old))
            if not is_object_store(fs):
                fs.makedirs(posixpath.dirname(final), exist_ok=True)
            fs.mv(staged, final, recursive=True)
    except BaseException:
        for final, old in reversed(done):
            with contextlib.suppress(Exception):
                if fs.exists(final):
                    fs.rm(final, recursive=True)
                if old is not None:
                    fs.mv(old, final, recursive=True)
        raise
    for _, old in done:
        if old is not None:
            with contextlib.suppress(FileNotFoundError):
                fs.rm(old, recursive=True)


def _dimensions(context: OutputContext) -> Mapping[str, str]:
    """Partition column -> value of ``context``'s partition, as its storage path names them."""
    assert context.partition_key is not None, "a partition of the range"
    return context.partition_dimensions or {"partition": context.partition_key}


def _asset(context: OutputContext) -> str:
    return context.asset_key.to_user_string() if context.asset_key is not None else "?"


def _range(contexts: Sequence[OutputContext]) -> str:
    keys = [c.partition_key for c in contexts]
    if len(keys) <= _EXAMPLES:
        return f"partitions {keys}"
    return f"{len(keys)} partitions ({keys[0]!r} to {keys[-1]!r})"


def _outside_message(
    contexts: Sequence[OutputContext], columns: list[str], outside: list[Values]
) -> str:
    def show(values: Values) -> str:
        shown = ["null" if v is None else repr(v) for v in values]
        if len(columns) == 1:
            return shown[0]
        return "(" + ", ".join(f"{c}={v}" for c, v in zip(columns, shown, strict=True)) + ")"

    examples = ", ".join(show(values) for values in outside[:_EXAMPLES])
    if len(outside) > _EXAMPLES:
        examples += f" and {len(outside) - _EXAMPLES} more"
    what = f"column {columns[0]!r}" if len(columns) == 1 else f"columns {columns}"
    column = columns[0]
    return (
        f"Asset {_asset(contexts[0])!r} runs for {_range(contexts)} in one step, but the "
        f"DataFrame it returned has rows whose {what} names other partitions: {examples}. "
        f"Nothing was stored. Keep only this step's partitions, e.g. "
        f"df.where(F.col({column!r}).isin(context.partition_keys)), or run a range that "
        "covers them (rows of a partition marked with context.fail_partition count as "
        "outside too, and a null needs a value)."
    )
