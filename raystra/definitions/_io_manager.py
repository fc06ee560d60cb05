"""The IO manager contract: how a step's outputs are stored and its inputs loaded.

An IO manager implements two methods, `IOManager.handle_output` and `IOManager.load_input`.
`InMemoryIOManager` is the reference implementation kept beside the contract; the Parquet and
pickle IO managers live in the ``raystra_io`` package.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions._config import ConfigurableResource
from raystra.definitions._keys import AssetKey
from raystra.errors import InputNotFoundError

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
    ``run_id``/``step_key``/``output_name`` instead.
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
    partition the *consuming* step runs for; ``expected_type`` is the parameter's annotation.
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
