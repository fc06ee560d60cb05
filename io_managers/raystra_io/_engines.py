"""Engines that read and write an asset's Parquet themselves (Spark, Dask), found by entry point.

A pandas, polars or pyarrow value passes through the IO manager as an Arrow table. A Spark or
Dask DataFrame must not: it may not fit in one process. An `TableEngine` lets the engine write
its frame to the asset's Parquet location itself, and read an upstream asset from that location
when an input is annotated with the engine's frame type. Engines register under the entry point
group ``raystra.table_engines``; raystra_io never imports them until a value or annotation of
theirs shows up.

Where an engine writes: a directory of Parquet files at the path a table would have had
(``<base>/<asset>.parquet/`` for an asset, ``<base>/<asset>/<dim>=<key>/data.parquet/`` for a
partition), so pyarrow, Dask and Spark read every asset the same way, whichever engine wrote it.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from raystra.definitions import InputContext, OutputContext

__all__ = ["ENTRY_POINT_GROUP", "EngineLocation", "TableEngine", "engine_for", "table_engines"]

ENTRY_POINT_GROUP = "raystra.table_engines"


@dataclass(frozen=True)
class EngineLocation:
    """Where an engine reads or writes one stored value.

    Attributes:
        url: Full URL (``s3://bucket/...``) or local path of the Parquet file or directory.
        storage_options: The IO manager's fsspec options (credentials already resolved).
        filesystem: The fsspec filesystem for ``url`` (for listing, deleting, renaming).
        path: ``url`` as a path inside ``filesystem``.
    """

    url: str
    storage_options: Mapping[str, Any]
    filesystem: Any
    path: str


class TableEngine(abc.ABC):
    """An engine that stores and loads its own frames as Parquet (subclass per engine).

    Example:
        >>> class Frames(TableEngine):  # doctest: +SKIP
        ...     name = "frames"
        ...     def handles_type(self, tp): return getattr(tp, "__module__", "") == "frames"
        ...     def handles_object(self, obj): return self.handles_type(type(obj))
        ...     def write(self, obj, location, context): ...
        ...     def read(self, location, context): ...
    """

    name: str = ""

    @abc.abstractmethod
    def handles_type(self, tp: object) -> bool:
        """True when an input annotated ``tp`` should be loaded by this engine.

        Must not import the engine: compare module and class names.
        """

    @abc.abstractmethod
    def handles_object(self, obj: object) -> bool:
        """True when ``obj`` (an output value) is one of this engine's frames."""

    @abc.abstractmethod
    def write(
        self, obj: Any, location: EngineLocation, context: OutputContext
    ) -> Mapping[str, Any]:
        """Write ``obj`` as Parquet at ``location`` (replacing what was there) and return
        metadata (``row_count``, ``schema`` ... when cheap to know). Must leave no
        half-written data visible if it raises. ``context.path`` is ``location.url``."""

    @abc.abstractmethod
    def read(self, location: EngineLocation, context: InputContext) -> Any:
        """Load the Parquet file or directory at ``location`` as this engine's frame, lazily
        where the engine can (no collect through the driver). ``context.path`` is
        ``location.url``."""

    def column_names(self, obj: Any) -> list[str] | None:
        """``obj``'s column names, without computing it; None when the engine cannot tell."""
        return None

    def write_partitioned(
        self,
        obj: Any,
        location: EngineLocation,
        columns: Sequence[str],
        context: OutputContext,
    ) -> Mapping[str, Any] | None:
        """Write ``obj``, a frame covering several partitions, as one Hive-partitioned Parquet
        dataset in the new directory ``location``: one directory per distinct value of
        ``columns`` (nested in that order, ``date=2024-01-01/region=eu/``), holding the rows
        without those columns. raystra_io checks the directories it finds there against the
        partitions being written, then moves each into place.

        Return metadata shared by every partition (``schema``, ``column_count``: the stored
        columns), or None (the default) when the engine cannot, without writing anything; a
        range step then has to return one frame per partition. ``context`` is the first
        partition's.
        """
        return None

    def read_partitions(
        self,
        locations: Sequence[EngineLocation],
        base: EngineLocation,
        contexts: Sequence[InputContext],
    ) -> Any:
        """Load several stored partitions (``locations``, files or directories) as one frame,
        with the partition column(s) the engine reads from Hive-style directory names below
        ``base`` (the asset's directory), as it would for the whole dataset.

        Return ``NotImplemented`` (the default) when the engine cannot; the input then gets
        one frame per partition, in a dict.
        """
        return NotImplemented

    def from_arrow(self, table: Any, context: InputContext) -> Any:
        """``table`` (a `pyarrow.Table` an upstream step of the run handed over in memory) as
        this engine's frame, for an input annotated with the engine's type; default unchanged."""
        return table

    def arrow_schema(self, obj: Any) -> Any:
        """``obj``'s schema as a `pyarrow.Schema` (for declared output schemas), without
        computing the frame; None when the engine cannot tell."""
        return None


@functools.cache
def table_engines() -> tuple[TableEngine, ...]:
    """The installed engines, each instantiated once per process.

    Example:
        >>> all(isinstance(engine, TableEngine) for engine in table_engines())
        True
    """
    found: list[TableEngine] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        engine = entry.load()()
        if not isinstance(engine, TableEngine):
            raise TypeError(
                f"Entry point {entry.name!r} in group {ENTRY_POINT_GROUP!r} gives "
                f"{type(engine).__name__}, not a raystra_io TableEngine."
            )
        found.append(engine)
    return tuple(found)


def engine_for(*, value: object = None, annotation: object = None) -> TableEngine | None:
    """The engine that owns ``value`` (an output) or ``annotation`` (an input type), if any.

    Example:
        >>> engine_for(value=42) is None
        True
    """
    for engine in table_engines():
        if value is not None and engine.handles_object(value):
            return engine
        if annotation is not None and engine.handles_type(annotation):
            return engine
    return None
