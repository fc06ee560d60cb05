"""Which partitions a request means, and what state each asset partition is in.

A partition request (one key, a range, a list, or all) is stated in the terms of the first
partitioned asset of the selection; other assets follow it through their partition mappings,
or, for time-window assets, by time span.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from raystra.definitions import AssetKey, Definitions
from raystra.definitions._partitions import (
    PartitionKeyRange,
    PartitionsDefinition,
    TimeWindowPartitionsDefinition,
)
from raystra.errors import PartitionKeyError, SelectionError
from raystra.storage import RunStorage

__all__ = [
    "AssetPartitionStatus",
    "PartitionRequest",
    "asset_partition_status",
    "resolve_targets",
]

STATES = ("missing", "fresh", "stale", "failed")


@dataclass(frozen=True, kw_only=True)
class PartitionRequest:
    """Which partitions to run: exactly one of ``keys``, ``key_range`` or ``all``.

    Example:
        >>> PartitionRequest(key_range=PartitionKeyRange("2024-01-01", "2024-01-31")).describe()
        {'range': ['2024-01-01', '2024-01-31']}
    """

    keys: tuple[str, ...] = ()
    key_range: PartitionKeyRange | None = None
    all: bool = False

    def __post_init__(self) -> None:
        given = sum((bool(self.keys), self.key_range is not None, self.all))
        if given != 1:
            raise SelectionError(
                "Say which partitions to run with exactly one of: partition keys "
                "(--partitions a,b), a range (--from A --to B) or all partitions (--all)."
            )

    def describe(self) -> dict[str, Any]:
        """JSON-able form, as stored with a backfill."""
        if self.key_range is not None:
            return {"range": [self.key_range.start, self.key_range.end]}
        if self.keys:
            return {"keys": list(self.keys)}
        return {"all": True}

    @classmethod
    def from_description(cls, described: Mapping[str, Any]) -> PartitionRequest:
        """Rebuild from `describe` output."""
        if "range" in described:
            return cls(key_range=PartitionKeyRange(*described["range"]))
        if "keys" in described:
            return cls(keys=tuple(described["keys"]))
        return cls(all=True)


def resolve_targets(
    defs: Definitions,
    keys: Iterable[AssetKey],
    request: PartitionRequest,
    *,
    storage: RunStorage | None = None,
    current_time: datetime | None = None,
) -> dict[AssetKey, list[str]]:
    """Partition keys to run per partitioned asset in ``keys`` (validated, in order)."""
    now = current_time or datetime.now(UTC)
    ordered = [key for key in defs.topological_keys if key in set(keys)]
    partitioned = [key for key in ordered if defs.partitions_def_for(key) is not None]
    if not partitioned:
        raise SelectionError(
            "None of the selected assets is partitioned, so there are no partitions to run. "
            "Drop the partition options, or select partitioned assets."
        )
    primary_key = partitioned[0]
    primary = defs.partitions_def_for(primary_key)
    assert primary is not None
    primary_keys = _keys_for(primary, request, primary_key, storage, now)
    targets: dict[AssetKey, list[str]] = {}
    for key in partitioned:
        definition = defs.partitions_def_for(key)
        assert definition is not None
        if definition == primary:
            targets[key] = primary_keys
            continue
        derived = _from_parents(defs, key, definition, targets, storage, now)
        if derived is None:
            derived = _by_time_span(primary, primary_keys, definition)
        if derived is None:
            raise SelectionError(
                f"Asset {key.to_user_string()!r} is partitioned differently ({definition}) from "
                f"{primary_key.to_user_string()!r} ({primary}), and no selected upstream asset "
                "maps onto it. Backfill it separately, with partition keys of its own."
            )
        targets[key] = derived
    return targets


def _keys_for(
    definition: PartitionsDefinition,
    request: PartitionRequest,
    asset: AssetKey,
    storage: RunStorage | None,
    now: datetime,
) -> list[str]:
    dynamic = storage
    name = asset.to_user_string()
    if request.all:
        return list(definition.get_partition_keys(now, dynamic))
    if request.key_range is not None:
        return definition.get_partition_keys_in_range(
            request.key_range, asset=name, current_time=now, dynamic_partitions=dynamic
        )
    for key in request.keys:
        definition.validate_key(key, asset=name, current_time=now, dynamic_partitions=dynamic)
    order = {
        key: definition.key_index(key, current_time=now, dynamic_partitions=dynamic)
        for key in dict.fromkeys(request.keys)
    }
    return sorted(order, key=order.__getitem__)


def _from_parents(
    defs: Definitions,
    key: AssetKey,
    definition: PartitionsDefinition,
    targets: Mapping[AssetKey, Sequence[str]],
    storage: RunStorage | None,
    now: datetime,
) -> list[str] | None:
    """Keys of ``key`` that read any targeted partition of a selected upstream asset."""
    found: dict[str, None] = {}
    matched = False
    for parent in sorted(defs.asset_graph.parents[key]):
        if parent not in targets:
            continue
        mapping = defs.partition_mapping_for(key, parent)
        parent_def = defs.partitions_def_for(parent)
        if mapping is None or parent_def is None:
            continue
        matched = True
        for child_key in mapping.downstream_keys(
            targets[parent], parent_def, definition, current_time=now, dynamic_partitions=storage
        ):
            found[child_key] = None
    if not matched:
        return None
    order = {
        k: definition.key_index(k, current_time=now, dynamic_partitions=storage) for k in found
    }
    return sorted(order, key=order.__getitem__)


def _by_time_span(
    primary: PartitionsDefinition, primary_keys: Sequence[str], other: PartitionsDefinition
) -> list[str] | None:
    """Keys of time-window definition ``other`` whose windows lie inside the requested span."""
    if not (
        isinstance(primary, TimeWindowPartitionsDefinition)
        and isinstance(other, TimeWindowPartitionsDefinition)
        and primary_keys
    ):
        return None
    start = primary.time_window_for_partition_key(primary_keys[0]).start
    end = primary.time_window_for_partition_key(primary_keys[-1]).end
    keys = []
    for key in other.get_partition_keys(end):
        window = other.time_window_for_partition_key(key)
        if window.start >= start and window.end <= end:
            keys.append(key)
    return keys


@dataclass(frozen=True, kw_only=True)
class AssetPartitionStatus:
    """How many partitions of one asset are missing, fresh, stale or failed, and which.

    ``keys`` maps each state to its partition keys in definition order (for an unpartitioned
    asset, the single "partition" is ``None``). ``stale_because`` explains stale ones.
    """

    asset_key: AssetKey
    partitions_def: PartitionsDefinition | None
    keys: Mapping[str, list[str | None]]
    stale_because: Mapping[str | None, list[str]] = field(default_factory=dict)
    all_keys: Sequence[str | None] = field(default=(), repr=False)

    @property
    def counts(self) -> dict[str, int]:
        """Number of partitions per state."""
        return {state: len(self.keys.get(state, [])) for state in STATES}

    def ranges(self, state: str) -> list[tuple[str, str]]:
        """Consecutive runs of partitions in ``state``, as (first, last) pairs."""
        return _ranges(self.all_keys, self.keys.get(state, []))


def asset_partition_status(
    defs: Definitions,
    key: AssetKey,
    storage: RunStorage,
    *,
    current_time: datetime | None = None,
) -> AssetPartitionStatus:
    """Missing/fresh/stale/failed partitions of ``key`` from the storage's partition index.

    Stale: the asset's ``code_version`` changed since the partition was materialized, or an
    upstream partition it read was materialized again since.
    """
    definition = defs.partitions_def_for(key)
    now = current_time or datetime.now(UTC)
    all_keys: Sequence[str | None] = (
        [None] if definition is None else definition.get_partition_keys(now, storage)
    )
    states = storage.partition_states(key)
    stale_because = storage.stale_partitions(key)
    code_version = defs.code_version_for(key)
    keys: dict[str, list[str | None]] = {state: [] for state in STATES}
    reasons: dict[str | None, list[str]] = {}
    for partition in all_keys:
        state = states.get(partition)
        if state is None:
            keys["missing"].append(partition)
        elif state.status == "failed":
            keys["failed"].append(partition)
        elif code_version is not None and state.code_version != code_version:
            keys["stale"].append(partition)
            reasons[partition] = [f"code version {state.code_version!r} -> {code_version!r}"]
        elif partition in stale_because:
            keys["stale"].append(partition)
            reasons[partition] = sorted(set(stale_because[partition]))
        else:
            keys["fresh"].append(partition)
    return AssetPartitionStatus(
        asset_key=key,
        partitions_def=definition,
        keys=keys,
        stale_because=reasons,
        all_keys=all_keys if definition is not None else (),
    )


def _ranges(all_keys: Sequence[str | None], keys: Sequence[str | None]) -> list[tuple[str, str]]:
    if not all_keys or not keys:
        return []
    index = {key: i for i, key in enumerate(all_keys)}
    runs: list[tuple[str, str]] = []
    start = previous = None
    for key in keys:
        assert key is not None
        position = index.get(key)
        if start is not None and previous is not None and position == index[previous] + 1:
            previous = key
            continue
        if start is not None and previous is not None:
            runs.append((start, previous))
        start = previous = key
    if start is not None and previous is not None:
        runs.append((start, previous))
    return runs


def check_partitioned_selection(defs: Definitions, keys: Iterable[AssetKey]) -> None:
    """Partitioned assets need a partition: say how to give one."""
    for key in keys:
        definition = defs.partitions_def_for(key)
        if definition is not None:
            raise PartitionKeyError(
                f"Asset {key.to_user_string()!r} is partitioned ({definition}): say which "
                "partition to materialize with partition_key=... (CLI: --partition KEY), a "
                "range (--partition-range A...B), or run `raystra backfill`."
            )
