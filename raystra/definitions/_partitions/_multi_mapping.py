"""`MultiToSingleDimensionPartitionMapping`: connect a multi-partitioned asset to a single one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from raystra.definitions._partitions._base import DynamicPartitionsStore, PartitionsDefinition
from raystra.definitions._partitions._mappings import (
    PartitionMapping,
    in_order,
    missing_upstream,
    now_or,
    same_key_space,
)
from raystra.definitions._partitions._multi import (
    MULTI_KEY_SEPARATOR,
    MultiPartitionsDefinition,
)
from raystra.errors import PartitionMappingError

__all__ = ["MultiToSingleDimensionPartitionMapping"]


@dataclass(frozen=True)
class _Sides:
    multi: MultiPartitionsDefinition
    single: PartitionsDefinition
    position: int  # of the shared dimension among the multi's sorted dimensions
    multi_is_upstream: bool


@dataclass(frozen=True)
class MultiToSingleDimensionPartitionMapping(PartitionMapping):
    """Match one dimension of a multi-partitioned asset with a single-partitioned asset.

    Works both ways: a single-partitioned downstream reads every upstream multi-partition whose
    ``partition_dimension_name`` key equals its key; a multi-partitioned downstream reads the
    upstream partition named by that dimension of its key. The dimension is inferred when the
    single definition matches exactly one dimension (equal, or a time window on the same
    schedule).

    Example:
        >>> from raystra.definitions._partitions import (
        ...     MultiPartitionsDefinition, StaticPartitionsDefinition
        ... )
        >>> regions = StaticPartitionsDefinition(["eu", "us"])
        >>> grid = MultiPartitionsDefinition(
        ...     {"region": regions, "tier": StaticPartitionsDefinition(["a", "b"])}
        ... )
        >>> MultiToSingleDimensionPartitionMapping().upstream_keys(["us"], regions, grid)
        ['us|a', 'us|b']
    """

    partition_dimension_name: str | None = None

    def _sides(
        self, upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
    ) -> _Sides | str:
        if downstream is None:
            return "the downstream asset is not partitioned"
        up_multi = isinstance(upstream, MultiPartitionsDefinition)
        if up_multi == isinstance(downstream, MultiPartitionsDefinition):
            return "exactly one side must be multi-partitioned"
        multi, single = (upstream, downstream) if up_multi else (downstream, upstream)
        assert isinstance(multi, MultiPartitionsDefinition)
        names = multi.partition_dimension_names
        defs = multi.partitions_defs
        if self.partition_dimension_name is None:
            matches = [name for name in names if same_key_space(defs[name], single)]
            if len(matches) != 1:
                found = "no dimension" if not matches else f"dimensions {matches}"
                return (
                    f"{found} of the multi-partitions matches {single.describe()}; name one: "
                    f"MultiToSingleDimensionPartitionMapping(partition_dimension_name=...) with "
                    f"one of {names}"
                )
            name = matches[0]
        else:
            name = self.partition_dimension_name
            if name not in defs:
                return f"the multi-partitions have no dimension {name!r} (they have {names})"
            if not same_key_space(defs[name], single):
                return (
                    f"dimension {name!r} is {defs[name].describe()}, which differs from "
                    f"{single.describe()}"
                )
        return _Sides(multi, single, names.index(name), up_multi)

    def _resolve(
        self, upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
    ) -> _Sides:
        sides = self._sides(upstream, downstream)
        if isinstance(sides, str):
            raise PartitionMappingError(f"{self!r} can't be used here: {sides}.")
        return sides

    def check_compatible(
        self, upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
    ) -> str | None:
        """One side multi-partitioned, with a dimension matching the other side."""
        sides = self._sides(upstream, downstream)
        return sides if isinstance(sides, str) else None

    def upstream_keys(
        self,
        downstream_keys: Sequence[str],
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """Multi upstream: its keys with a matching dimension; single upstream: the dimension."""
        sides, now = self._resolve(upstream, downstream), now_or(current_time)
        if sides.multi_is_upstream:
            name = sides.multi.partition_dimension_names[sides.position]
            dimension = sides.multi.partitions_defs[name]
            fail = missing_upstream(self, dimension)
            wanted = in_order(downstream_keys, dimension, now, dynamic_partitions, on_missing=fail)
            return _with_part(sides, set(wanted), now, dynamic_partitions)
        parts = [_part(sides, key) for key in downstream_keys]
        fail = missing_upstream(self, upstream)
        return in_order(parts, upstream, now, dynamic_partitions, on_missing=fail)

    def downstream_keys(
        self,
        upstream_keys: Sequence[str],
        upstream: PartitionsDefinition,
        downstream: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """The reverse: dimension parts of multi keys, or multi keys having a given part."""
        sides, now = self._resolve(upstream, downstream), now_or(current_time)
        if sides.multi_is_upstream:
            parts = [_part(sides, key) for key in upstream_keys]
            return in_order(parts, sides.single, now, dynamic_partitions)
        return _with_part(sides, set(upstream_keys), now, dynamic_partitions)


def _part(sides: _Sides, key: str) -> str:
    parts = key.split(MULTI_KEY_SEPARATOR)
    if len(parts) != len(sides.multi.partition_dimension_names):
        sides.multi.to_multi_key(key)  # raises the readable error
    return parts[sides.position]


def _with_part(
    sides: _Sides, wanted: set[str], now: datetime, dynamic: DynamicPartitionsStore | None
) -> list[str]:
    """Keys of the multi side whose shared dimension is in ``wanted``, in multi order."""
    if not wanted:
        return []
    position = sides.position
    return [
        key
        for key in sides.multi.get_partition_keys(now, dynamic)
        if key.split(MULTI_KEY_SEPARATOR)[position] in wanted
    ]
