"""The context object handed to a step function that asks for it (a ``context`` parameter)."""

from __future__ import annotations

import logging
from collections.abc import ItemsView, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions._keys import AssetKey
from raystra.definitions._partitions import (
    MultiPartitionsDefinition,
    PartitionKeyRange,
    PartitionsDefinition,
    TimeWindow,
    TimeWindowPartitionsDefinition,
)
from raystra.errors import RaystraError

__all__ = [
    "AssetExecutionContext",
    "OpExecutionContext",
    "Resources",
    "build_asset_context",
    "build_op_context",
]


class Resources:
    """The resources a step asked for: ``context.resources.warehouse``, or read like a mapping.

    Attribute access is the usual way in a step. Code that does not know the keys in advance
    (an IO manager or engine looking for a resource of some type) iterates instead: ``for key
    in resources``, ``resources.items()``, ``resources.get(key)``. A resource whose key is also
    the name of one of these methods (``"get"``, ``"items"``) is reached through ``get``.

    Example:
        >>> resources = Resources({"warehouse": "duckdb://prod", "bucket": "s3://lake"})
        >>> resources.warehouse
        'duckdb://prod'
        >>> sorted(resources), len(resources), resources.get("missing", "default")
        (['bucket', 'warehouse'], 2, 'default')
        >>> [key for key, value in resources.items() if value.startswith("s3://")]
        ['bucket']
    """

    def __init__(self, resources: Mapping[str, Any]) -> None:
        self._resources = dict(resources)

    def __iter__(self) -> Iterator[str]:
        """The resource keys."""
        return iter(self._resources)

    def __len__(self) -> int:
        return len(self._resources)

    def get(self, key: str, default: Any = None) -> Any:
        """The resource under ``key``, or ``default`` if the step has none by that key."""
        return self._resources.get(key, default)

    def items(self) -> ItemsView[str, Any]:
        """``(key, resource)`` pairs, e.g. to find the resource of a given type."""
        return self._resources.items()

    def __getattr__(self, name: str) -> Any:
        try:
            return self._resources[name]
        except KeyError:
            available = ", ".join(sorted(self._resources)) or "none"
            raise AttributeError(
                f"No resource {name!r} is available to this step (available: {available}). "
                "Name it as a parameter or in required_resource_keys, and provide it in "
                "Definitions(resources=...)."
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self._resources


@dataclass(kw_only=True)
class AssetExecutionContext:
    """Run-time information for the step being executed.

    Ask for it with a parameter named ``context`` (or annotated with this class).

    Example:
        >>> from raystra import asset
        >>> @asset
        ... def orders(context: AssetExecutionContext) -> list[int]:
        ...     context.log.info("building orders for run %s", context.run_id)
        ...     return [1, 2, 3]
    """

    run_id: str
    step_key: str
    node_name: str
    asset_keys: tuple[AssetKey, ...] = ()
    op_config: Any = None
    resources: Resources = field(default_factory=lambda: Resources({}))
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("raystra.step"))
    attempt: int = 1
    partition_keys_value: tuple[str, ...] = ()
    partitions_def: PartitionsDefinition | None = None
    # W3C traceparent of this attempt's step span when the run is traced, else None: pass it
    # to code that creates its own OpenTelemetry spans (or to Spark/Dask jobs) to nest them.
    traceparent: str | None = None
    _output_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    _failed_partitions: dict[str, str] = field(default_factory=dict)

    @property
    def asset_key(self) -> AssetKey:
        """The key of the asset being materialized (for single-asset steps)."""
        if len(self.asset_keys) != 1:
            raise RaystraError(
                f"Step {self.step_key!r} materializes {len(self.asset_keys)} assets; use "
                "context.asset_keys (context.asset_key is for single-asset steps)."
            )
        return self.asset_keys[0]

    @property
    def retry_number(self) -> int:
        """0 on the first attempt, then 1, 2, ... (Dagster's convention)."""
        return self.attempt - 1

    @property
    def has_partition_key(self) -> bool:
        """True when the step runs for exactly one partition."""
        return len(self.partition_keys_value) == 1

    @property
    def has_partition_key_range(self) -> bool:
        """True when the step runs for partitions (one or a range)."""
        return bool(self.partition_keys_value)

    @property
    def partition_key(self) -> str:
        """The partition being materialized; a `MultiPartitionKey` for multi-partitions.

        Raises for unpartitioned steps and for steps covering a range (see `partition_keys`).
        """
        keys = self.partition_keys_value
        if len(keys) != 1:
            what = "is not partitioned" if not keys else f"covers {len(keys)} partitions"
            raise RaystraError(
                f"Step {self.step_key!r} {what}, so it has no single partition_key. "
                "Use context.partition_keys or context.partition_key_range for a range, and "
                "check context.has_partition_key first."
            )
        if isinstance(self.partitions_def, MultiPartitionsDefinition):
            return self.partitions_def.to_multi_key(keys[0])
        return keys[0]

    @property
    def partition_keys(self) -> list[str]:
        """Every partition this step materializes, in order (empty when unpartitioned)."""
        return list(self.partition_keys_value)

    @property
    def partition_key_range(self) -> PartitionKeyRange:
        """First and last partition this step materializes."""
        keys = self._require_partitions("partition_key_range")
        return PartitionKeyRange(keys[0], keys[-1])

    @property
    def partition_time_window(self) -> TimeWindow:
        """``[start, end)`` covered by the step's partitions (time-window partitions only)."""
        keys = self._require_partitions("partition_time_window")
        definition = self.partitions_def
        if isinstance(definition, MultiPartitionsDefinition):
            for name, dimension in definition.partitions_defs.items():
                if isinstance(dimension, TimeWindowPartitionsDefinition):
                    parts = [definition.to_multi_key(k).keys_by_dimension[name] for k in keys]
                    return _span(dimension, parts)
        if isinstance(definition, TimeWindowPartitionsDefinition):
            return _span(definition, keys)
        raise RaystraError(
            f"Step {self.step_key!r} is partitioned by {definition}, which has no time "
            "windows; context.partition_time_window needs time-window partitions."
        )

    def fail_partition(self, partition_key: str, reason: str) -> None:
        """Mark one partition of a multi-partition step failed; the others still commit.

        Its output (if returned) is not stored, steps reading that partition are skipped,
        and the run ends FAILURE with the partition resumable by ``raystra backfill resume``.
        """
        if partition_key not in self.partition_keys_value:
            raise RaystraError(
                f"Step {self.step_key!r} cannot fail partition {partition_key!r}: it runs for "
                f"{list(self.partition_keys_value)[:5]}..."
            )
        self._failed_partitions[partition_key] = reason

    @property
    def failed_partitions(self) -> dict[str, str]:
        """Partitions marked failed with `fail_partition`, with their reasons."""
        return dict(self._failed_partitions)

    def _require_partitions(self, what: str) -> tuple[str, ...]:
        if not self.partition_keys_value:
            raise RaystraError(
                f"Step {self.step_key!r} is not partitioned, so it has no {what}. "
                "Check context.has_partition_key_range first."
            )
        return self.partition_keys_value

    def add_output_metadata(self, metadata: Mapping[str, Any], output_name: str = "result") -> None:
        """Attach metadata to an output's materialization (merged with the IO manager's)."""
        self._output_metadata.setdefault(output_name, {}).update(metadata)

    def output_metadata(self, output_name: str) -> dict[str, Any]:
        """Metadata added so far for ``output_name``."""
        return dict(self._output_metadata.get(output_name, {}))


def _span(definition: TimeWindowPartitionsDefinition, keys: Sequence[str]) -> TimeWindow:
    # Steps list their partitions in definition order.
    first = definition.time_window_for_partition_key(keys[0])
    last = definition.time_window_for_partition_key(keys[-1])
    return TimeWindow(first.start, last.end)


OpExecutionContext = AssetExecutionContext


def build_asset_context(
    *,
    resources: Mapping[str, Any] | None = None,
    config: Any = None,
    asset_key: AssetKey | str | None = None,
    partition_key: str | None = None,
    run_id: str = "test-run",
    partition_keys: list[str] | None = None,
    partitions_def: PartitionsDefinition | None = None,
) -> AssetExecutionContext:
    """A context for calling an asset function directly in a unit test (Dagster's name).

    ``context.log`` is a normal logger named ``raystra.test``.

    Example:
        >>> context = build_asset_context(asset_key="orders")
        >>> context.asset_key.to_user_string(), context.run_id
        ('orders', 'test-run')
    """
    keys: tuple[AssetKey, ...] = ()
    if asset_key is not None:
        keys = (AssetKey.from_coercible(asset_key),)
    step_key = keys[0].to_user_string() if keys else "test_step"
    return AssetExecutionContext(
        run_id=run_id,
        step_key=step_key,
        node_name=keys[0].name if keys else step_key,
        asset_keys=keys,
        op_config=config,
        resources=Resources(resources or {}),
        log=logging.getLogger("raystra.test"),
        partition_keys_value=tuple(partition_keys or ([partition_key] if partition_key else [])),
        partitions_def=partitions_def,
    )


def build_op_context(
    *, resources: Mapping[str, Any] | None = None, config: Any = None, run_id: str = "test-run"
) -> OpExecutionContext:
    """A context for calling an op function directly in a unit test (Dagster's name).

    Example:
        >>> build_op_context(config={"factor": 2}).op_config
        {'factor': 2}
    """
    return build_asset_context(resources=resources, config=config, run_id=run_id)
