"""Choosing the partition mapping of an asset input: the explicit one, checked, or a default."""

from __future__ import annotations

from raystra.definitions._partitions._base import PartitionsDefinition
from raystra.definitions._partitions._mappings import (
    AllPartitionMapping,
    IdentityPartitionMapping,
    PartitionMapping,
    same_key_space,
)
from raystra.definitions._partitions._multi import MultiPartitionsDefinition
from raystra.definitions._partitions._multi_mapping import MultiToSingleDimensionPartitionMapping
from raystra.definitions._partitions._static import StaticPartitionsDefinition
from raystra.definitions._partitions._time import TimeWindowPartitionsDefinition
from raystra.definitions._partitions._time_mapping import TimeWindowPartitionMapping
from raystra.errors import PartitionMappingError

__all__ = ["default_partition_mapping", "resolve_partition_mapping"]


def _infer(
    upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
) -> PartitionMapping | None:
    if downstream is None:
        return AllPartitionMapping()
    if upstream == downstream:
        return IdentityPartitionMapping()
    if isinstance(upstream, TimeWindowPartitionsDefinition) and isinstance(
        downstream, TimeWindowPartitionsDefinition
    ):
        return TimeWindowPartitionMapping()
    if isinstance(upstream, StaticPartitionsDefinition) and isinstance(
        downstream, StaticPartitionsDefinition
    ):
        subset = set(downstream.partition_keys) <= set(upstream.partition_keys)
        return IdentityPartitionMapping() if subset else None
    if isinstance(upstream, MultiPartitionsDefinition) != isinstance(
        downstream, MultiPartitionsDefinition
    ):
        multi_to_single = MultiToSingleDimensionPartitionMapping()
        if multi_to_single.check_compatible(upstream, downstream) is None:
            return multi_to_single
    if same_key_space(upstream, downstream):
        return IdentityPartitionMapping()
    return None


def default_partition_mapping(
    upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
) -> PartitionMapping:
    """The mapping raystra uses when an input names none (Dagster's defaults).

    Unpartitioned downstream: `AllPartitionMapping`. Equal definitions (or a static subset):
    `IdentityPartitionMapping`. Two time-window definitions: `TimeWindowPartitionMapping`.
    Multi and single sharing a dimension: `MultiToSingleDimensionPartitionMapping`. Anything
    else raises `PartitionMappingError`.

    Example:
        >>> from raystra.definitions._partitions import (
        ...     DailyPartitionsDefinition, HourlyPartitionsDefinition
        ... )
        >>> default_partition_mapping(
        ...     HourlyPartitionsDefinition("2024-01-01-00:00"), DailyPartitionsDefinition("2024-01-01")
        ... )
        TimeWindowPartitionMapping(start_offset=0, end_offset=0, allow_nonexistent_upstream_partitions=False)
    """  # noqa: E501
    mapping = _infer(upstream, downstream)
    if mapping is None:
        raise PartitionMappingError(
            f"No default partition mapping from {upstream.describe()} (upstream) to "
            f"{_describe(downstream)} (downstream): pass partition_mapping=... (e.g. "
            "AllPartitionMapping() or StaticPartitionMapping({...})) or use the same "
            "partitions_def on both assets."
        )
    return mapping


def resolve_partition_mapping(
    *,
    asset: str,
    input_name: str,
    upstream_key: str,
    upstream: PartitionsDefinition | None,
    downstream: PartitionsDefinition | None,
    explicit: PartitionMapping | None,
) -> PartitionMapping | None:
    """The mapping for input ``input_name`` of ``asset``, which reads asset ``upstream_key``.

    Returns ``explicit`` after checking it fits both definitions, else the default mapping;
    None when the upstream asset is not partitioned (the whole value is loaded). Raises
    `PartitionMappingError` naming the asset, the input, both definitions and the fix.
    Call it once per input when definitions are loaded.

    Example:
        >>> from raystra.definitions._partitions import DailyPartitionsDefinition
        >>> daily = DailyPartitionsDefinition("2024-01-01")
        >>> resolve_partition_mapping(
        ...     asset="report", input_name="orders", upstream_key="orders",
        ...     upstream=daily, downstream=None, explicit=None,
        ... )
        AllPartitionMapping()
    """
    where = f"Asset {asset!r}, input {input_name!r} (reads {upstream_key!r})"
    if explicit is not None:
        if upstream is None:
            raise PartitionMappingError(
                f"{where}: {upstream_key!r} is not partitioned, so partition_mapping="
                f"{explicit!r} has nothing to map. Remove the partition_mapping, or give "
                f"{upstream_key!r} a partitions_def."
            )
        problem = explicit.check_compatible(upstream, downstream)
        if problem is not None:
            raise PartitionMappingError(
                f"{where}: {explicit!r} can't map {upstream_key!r} ({upstream.describe()}) to "
                f"{asset!r} ({_describe(downstream)}): {problem}. Pick a mapping that fits, "
                f"or give both assets the same partitions_def."
            )
        return explicit
    if upstream is None:
        return None
    mapping = _infer(upstream, downstream)
    if mapping is None:
        raise PartitionMappingError(
            f"{where}: raystra can't tell which partitions of {upstream_key!r} each partition "
            f"of {asset!r} needs, because {asset!r} has {_describe(downstream)} and "
            f"{upstream_key!r} has {upstream.describe()}. Pass a mapping, e.g. "
            f"ins={{{input_name!r}: AssetIn(partition_mapping=AllPartitionMapping())}} to read "
            f"every partition of {upstream_key!r} (or LastPartitionMapping(), "
            f"StaticPartitionMapping({{...}}){_multi_hint(upstream, downstream)}), or give both "
            "assets the same partitions_def."
        )
    return mapping


def _describe(definition: PartitionsDefinition | None) -> str:
    return "no partitions" if definition is None else definition.describe()


def _multi_hint(upstream: PartitionsDefinition, downstream: PartitionsDefinition | None) -> str:
    for definition in (upstream, downstream):
        if isinstance(definition, MultiPartitionsDefinition):
            name = definition.partition_dimension_names[0]
            return f", MultiToSingleDimensionPartitionMapping(partition_dimension_name={name!r})"
    return ""
