"""The IO manager contract: how a step's outputs are stored and its inputs loaded.

An IO manager implements two methods, `IOManager.handle_output` and `IOManager.load_input`.
`InMemoryIOManager` is the reference implementation kept beside the contract; the Parquet and
pickle IO managers live in the ``raystra_io`` package.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions._config import ConfigurableResource
from raystra.definitions._keys import AssetKey
from raystra.errors import InputNotFoundError, RaystraError

__all__ = [
    "ConfigurableIOManager",
    "IOManager",
    "InMemoryIOManager",
    "InputContext",
    "OutputContext",
]

_log = logging.getLogger("raystra.io")


@dataclass(frozen=True, kw_only=True)
class OutputContext:
    """What an IO manager knows about an output it stores or will load.

    ``asset_key`` is set for asset outputs and None for op outputs; op outputs are addressed by
    ``run_id``/``step_key``/``output_name`` instead. `path` is where the value is stored, once
    an IO manager that stores files has worked it out (see `path`).

    Example:
        >>> ctx = OutputContext(run_id="r1", step_key="orders", asset_key=AssetKey("orders"))
        >>> ctx.has_path, ctx.with_path("s3://lake/orders.parquet").path
        (False, 's3://lake/orders.parquet')
    """

    run_id: str
    step_key: str
    output_name: str = "result"
    asset_key: AssetKey | None = None
    partition_key: str | None = None
    # Dimension name -> key of ``partition_key`` (``{"partition": key}`` for one dimension).
    partition_dimensions: Mapping[str, str] = field(default_factory=dict)
    definition_metadata: Mapping[str, Any] = field(default_factory=dict)
    resources: Any = None
    log: logging.Logger | logging.LoggerAdapter[logging.Logger] = _log
    # True when an earlier attempt of this step died mid-way (its worker was killed): it may
    # have left a partial temporary file, which the IO manager should now remove.
    earlier_attempt_lost: bool = False
    # Set through `with_path` by the IO manager, read through `path`.
    _path: str | None = field(default=None, repr=False)

    @property
    def path(self) -> str:
        """The fully qualified location of the stored value: ``s3://lake/raw/orders.parquet``,
        ``/data/lake/orders/partition=2024-03-01/data.parquet`` on local disk.

        Storage paths are the IO manager's business, so the core leaves this unset: an IO
        manager that stores files fills it in (`with_path`) before handing the context to code
        that needs it. `raystra_io.FsspecIOManager` does so for its ``dump_to_path`` and
        ``load_from_path`` hooks, and `ParquetIOManager` for the Spark and Dask engines. It is
        the same string as the ``path`` recorded in the materialization's metadata.

        Raises:
            RaystraError: The context has no path: the IO manager handling it stores no files
                (e.g. `InMemoryIOManager`) or has not set one. Reading it is a mistake, not a
                value to test for; use `has_path` where both are expected.
        """
        if self._path is None:
            raise RaystraError(
                f"{self._label()} has no storage path: its IO manager does not store it as a "
                "file, or has not worked out where yet. context.path is set by IO managers "
                "built on raystra_io.FsspecIOManager (inside dump_to_path/load_from_path); a "
                "custom IOManager sets it with context.with_path(...) or computes its own."
            )
        return self._path

    @property
    def has_path(self) -> bool:
        """True once an IO manager has set `path`."""
        return self._path is not None

    def with_path(self, path: str) -> OutputContext:
        """A copy of this context whose `path` is ``path`` (for IO managers that store files).

        Example:
            >>> ctx = OutputContext(run_id="r1", step_key="a", asset_key=AssetKey("a"))
            >>> ctx.with_path("/data/a.parquet").path
            '/data/a.parquet'
        """
        return dataclasses.replace(self, _path=path)

    def _label(self) -> str:
        if self.asset_key is None:
            return f"Output {self.output_name!r} of step {self.step_key!r}"
        label = f"Asset {self.asset_key.to_user_string()!r}"
        return label if self.partition_key is None else f"{label} partition {self.partition_key!r}"

    @property
    def has_partition_key(self) -> bool:
        """True when the output is one partition of a partitioned asset."""
        return self.partition_key is not None

    @property
    def has_asset_key(self) -> bool:
        """True for asset outputs."""
        return self.asset_key is not None

    def identity(self) -> tuple[str, ...]:
        """Parts that name this output: the asset key (and partition), or run/step/output.

        Partitions are Hive-style directories (``date=2024-01-01``, one per dimension), so
        pyarrow, Dask and Spark read an asset's partitions as one dataset.
        """
        if self.asset_key is not None:
            if self.partition_key is None:
                return self.asset_key.path
            dims = self.partition_dimensions or {"partition": self.partition_key}
            return (*self.asset_key.path, *(f"{dim}={key}" for dim, key in dims.items()))
        return ("runs", self.run_id, self.step_key, self.output_name)


@dataclass(frozen=True, kw_only=True)
class InputContext:
    """What an IO manager knows about an input it loads.

    ``upstream_output`` describes the output being loaded (the asset and the partition of it to
    load, or the producing run, step and output for op outputs); ``partition_key`` is the
    partition the *consuming* step runs for; ``expected_type`` is the parameter's annotation;
    `path` is where the loaded value is stored, once the IO manager has set it.

    Example:
        >>> upstream = OutputContext(run_id="r1", step_key="orders", asset_key=AssetKey("orders"))
        >>> ctx = InputContext(name="orders", step_key="report", upstream_output=upstream)
        >>> ctx.with_path("/data/orders.parquet").path
        '/data/orders.parquet'
    """

    name: str
    step_key: str
    upstream_output: OutputContext
    expected_type: Any = None
    partition_key: str | None = None
    definition_metadata: Mapping[str, Any] = field(default_factory=dict)
    resources: Any = None
    log: logging.Logger | logging.LoggerAdapter[logging.Logger] = _log

    @property
    def asset_key(self) -> AssetKey | None:
        """The asset being loaded, if the input is an asset."""
        return self.upstream_output.asset_key

    @property
    def path(self) -> str:
        """The fully qualified location of the value being loaded (``upstream_output.path``).

        Set by IO managers that store files, as `OutputContext.path` is; the same string as the
        ``path`` recorded when the value was stored.

        Raises:
            RaystraError: The IO manager loading this input has not set a path (it stores no
                files, or computes its locations itself).
        """
        return self.upstream_output.path

    @property
    def has_path(self) -> bool:
        """True once an IO manager has set `path`."""
        return self.upstream_output.has_path

    def with_path(self, path: str) -> InputContext:
        """A copy of this context whose `path` (its upstream output's) is ``path``."""
        return dataclasses.replace(self, upstream_output=self.upstream_output.with_path(path))


class IOManager(abc.ABC):
    """Stores step outputs and loads step inputs.

    ``handle_output`` must be atomic: when it returns, the output is fully committed; if it
    raises, nothing half-written is visible. It may return metadata (row count, path...) that is
    recorded with the materialization.

    Example:
        >>> class Noop(IOManager):
        ...     def handle_output(self, context, obj):
        ...         return {"ignored": True}
        ...     def load_input(self, context):
        ...         return None
    """

    @abc.abstractmethod
    def handle_output(self, context: OutputContext, obj: Any) -> Mapping[str, Any] | None:
        """Store ``obj`` for the output described by ``context``; return metadata or None."""

    @abc.abstractmethod
    def load_input(self, context: InputContext) -> Any:
        """Load the value of ``context.upstream_output``; raise a clear error if it is missing."""

    def handle_output_partitions(
        self, contexts: Sequence[OutputContext], obj: Any
    ) -> Sequence[Mapping[str, Any]] | None:
        """Store ``obj``, one value covering several partitions, in one write (optional).

        raystra calls this for a step that covers a range of partitions (a single-run
        `BackfillPolicy`) and returned a value it cannot split itself: not a dict keyed by
        partition key, nor a pyarrow/pandas/polars table with partition column(s). A Spark
        DataFrame with a ``partition`` column is the case `raystra_io.ParquetIOManager`
        handles. ``contexts`` has one context per partition to commit, in range order; return
        the metadata of each, in the same order (one materialization is recorded per
        partition). Like `handle_output`, it must be atomic: if it raises, every partition
        keeps its previous value.

        Return None (the default) when this IO manager does not store such a value in one
        write; nothing may have been stored then, and the step fails with an error saying what
        a range step may return.

        Example:
            >>> class Memory(InMemoryIOManager):
            ...     def handle_output_partitions(self, contexts, obj):
            ...         for context in contexts:
            ...             self.values[context.identity()] = obj[context.partition_key]
            ...         return [{} for _ in contexts]
        """
        return None

    def load_input_partitions(self, contexts: Sequence[InputContext]) -> Any:
        """Load several partitions of an upstream asset as one value (optional).

        raystra calls this for an input reading partitions of a partitioned asset (a weekly
        step reading seven daily partitions, an unpartitioned step reading them all); there is
        one context per upstream partition, in order. Return the value the step gets, or
        ``NotImplemented`` (the default) to have raystra call `load_input` for each partition
        and combine the parts: pyarrow/pandas/polars tables into one table with partition
        column(s), anything else into a ``{partition key: value}`` dict, one partition as
        itself. `raystra_io.ParquetIOManager` implements it so that Spark and Dask read all
        the partitions as one DataFrame.

        Example:
            >>> class Memory(InMemoryIOManager):
            ...     def load_input_partitions(self, contexts):
            ...         return [self.load_input(context) for context in contexts]
        """
        return NotImplemented


class ConfigurableIOManager(ConfigurableResource, IOManager):
    """An IO manager configured like a resource (pydantic fields, `EnvVar` secrets).

    Example:
        >>> class Memory(ConfigurableIOManager):
        ...     def handle_output(self, context, obj):
        ...         return None
        ...     def load_input(self, context):
        ...         return None
    """


class InMemoryIOManager(IOManager):
    """Keeps outputs in a dict in this process: the reference implementation, for tests.

    Example:
        >>> io = InMemoryIOManager()
        >>> ctx = OutputContext(run_id="r", step_key="a", asset_key=AssetKey("a"))
        >>> io.handle_output(ctx, 42)
        {}
        >>> io.load_input(InputContext(name="a", step_key="b", upstream_output=ctx))
        42
    """

    def __init__(self) -> None:
        self.values: dict[tuple[str, ...], Any] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> Mapping[str, Any] | None:
        self.values[context.identity()] = obj
        return {}

    def load_input(self, context: InputContext) -> Any:
        identity = context.upstream_output.identity()
        if identity not in self.values:
            raise InputNotFoundError(
                f"Input {context.name!r} of step {context.step_key!r}: nothing stored in memory "
                f"for {'/'.join(identity)!r}. Materialize it first in this process."
            )
        return self.values[identity]
