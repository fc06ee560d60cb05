"""Partition mappings: which upstream partitions a downstream partition reads, and back.

A mapping is a frozen value with two pure methods. ``upstream_keys`` answers "what does this
run load?"; ``downstream_keys`` answers "what did this materialization make stale?" (and drives
backfill propagation). Both return keys deduplicated and in the target definition's order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from raystra.definitions._partitions._base import (
    DynamicPartitionsStore,
    PartitionsDefinition,
    quote_keys,
)
from raystra.definitions._partitions._static import StaticPartitionsDefinition
from raystra.definitions._partitions._time import TimeWindowPartitionsDefinition
from raystra.errors import PartitionMappingError

__all__ = [
    "AllPartitionMapping",
    "IdentityPartitionMapping",
    "LastPartitionMapping",
    "PartitionMapping",
    "StaticPartitionMapping",
]


class PartitionMapping(ABC):
    """Maps partitions of a downstream asset to the partitions of one upstream asset it reads.

    ``downstream`` is None for an unpartitioned downstream asset (it has no keys, so
    ``downstream_keys`` returns ``[]``; a caller treats any affected upstream key as affecting
    the whole asset).

    Example:
        >>> from raystra.definitions._partitions import StaticPartitionsDefinition
        >>> class FirstOnly(PartitionMapping):
        ...     def upstream_keys(self, downstream_keys, downstream, upstream, **_):
        ...         return list(upstream.get_partition_keys())[:1]
        ...     def downstream_keys(self, upstream_keys, upstream, downstream, **_):
        ...         return []
        >>> FirstOnly().upstream_keys(["x"], None, StaticPartitionsDefinition(["a", "b"]))
        ['a']
    """

    @abstractmethod
    def upstream_keys(
        self,
        downstream_keys: Sequence[str],
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """Upstream keys that ``downstream_keys`` read, deduplicated, in upstream order."""

    @abstractmethod
    def downstream_keys(
        self,
        upstream_keys: Sequence[str],
        upstream: PartitionsDefinition,
        downstream: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """Downstream keys that read any of ``upstream_keys``, in downstream order."""

    def check_compatible(
        self, upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
    ) -> str | None:
        """Why this mapping can't connect the two definitions, or None if it can."""
        return None


def now_or(current_time: datetime | None) -> datetime:
    """Fix "now" once per mapping call, so every definition sees the same current time."""
    return datetime.now(UTC) if current_time is None else current_time


def in_order(
    keys: Iterable[str],
    definition: PartitionsDefinition,
    current_time: datetime,
    dynamic: DynamicPartitionsStore | None,
    *,
    on_missing: Callable[[str], None] | None = None,
) -> list[str]:
    """``keys`` deduplicated and sorted in ``definition``'s order; missing keys are dropped
    (after calling ``on_missing``, which may raise)."""
    find: Callable[[str], int | None]
    if isinstance(definition, StaticPartitionsDefinition | TimeWindowPartitionsDefinition):
        find = partial(definition._find_index, current_time=current_time, dynamic=dynamic)
    else:  # dynamic or multi: read the keys once instead of once per key
        index = {k: i for i, k in enumerate(definition.get_partition_keys(current_time, dynamic))}
        find = index.get
    positions: dict[str, int] = {}
    for key in keys:
        if key in positions:
            continue
        position = find(key)
        if position is None:
            if on_missing is not None:
                on_missing(key)
            continue
        positions[key] = position
    return sorted(positions, key=positions.__getitem__)


def missing_upstream(
    mapping: PartitionMapping, upstream: PartitionsDefinition
) -> Callable[[str], None]:
    """An ``on_missing`` that raises `PartitionMappingError` for an upstream key."""

    def fail(key: str) -> None:
        raise PartitionMappingError(
            f"{mapping!r} maps to upstream partition {key!r}, which is not a partition of "
            f"{upstream.describe()}. Check the downstream keys, or map to existing partitions."
        )

    return fail


def same_key_space(a: PartitionsDefinition, b: PartitionsDefinition) -> bool:
    """Equal, or time windows with the same schedule, format and zone (starts/ends may differ)."""
    if a == b:
        return True
    if isinstance(a, TimeWindowPartitionsDefinition) and isinstance(
        b, TimeWindowPartitionsDefinition
    ):
        return (a.cron_schedule, a.fmt, a.timezone) == (b.cron_schedule, b.fmt, b.timezone)
    return False


@dataclass(frozen=True)
class IdentityPartitionMapping(PartitionMapping):
    """Partition ``k`` downstream reads partition ``k`` upstream.

    The default between assets with the same partitions definition.

    Example:
        >>> from raystra.definitions._partitions import StaticPartitionsDefinition
        >>> colors = StaticPartitionsDefinition(["red", "blue"])
        >>> IdentityPartitionMapping().upstream_keys(["blue", "red", "blue"], colors, colors)
        ['red', 'blue']
    """

    def upstream_keys(
        self,
        downstream_keys: Sequence[str],
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """The same keys, each checked against ``upstream``."""
        now = now_or(current_time)
        fail = missing_upstream(self, upstream)
        return in_order(downstream_keys, upstream, now, dynamic_partitions, on_missing=fail)

    def downstream_keys(
        self,
        upstream_keys: Sequence[str],
        upstream: PartitionsDefinition,
        downstream: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """The same keys, keeping those that are downstream partitions."""
        if downstream is None:
            return []
        return in_order(upstream_keys, downstream, now_or(current_time), dynamic_partitions)

    def check_compatible(
        self, upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
    ) -> str | None:
        """Both sides need the same keys (a static downstream may use a subset)."""
        if downstream is None:
            return "the downstream asset is not partitioned, so there is no key to match"
        if same_key_space(upstream, downstream):
            return None
        if isinstance(upstream, StaticPartitionsDefinition) and isinstance(
            downstream, StaticPartitionsDefinition
        ):
            extra = [k for k in downstream.partition_keys if k not in set(upstream.partition_keys)]
            if not extra:
                return None
            return f"downstream keys {quote_keys(extra)} are not upstream partitions"
        return "the two definitions have different keys"


@dataclass(frozen=True)
class AllPartitionMapping(PartitionMapping):
    """Every downstream partition reads every upstream partition.

    The default when an unpartitioned asset reads a partitioned one.

    Example:
        >>> from raystra.definitions._partitions import StaticPartitionsDefinition
        >>> colors = StaticPartitionsDefinition(["red", "blue"])
        >>> AllPartitionMapping().upstream_keys([], None, colors)
        ['red', 'blue']
    """

    def upstream_keys(
        self,
        downstream_keys: Sequence[str],
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """All upstream keys that exist at ``current_time``."""
        return list(upstream.get_partition_keys(now_or(current_time), dynamic_partitions))

    def downstream_keys(
        self,
        upstream_keys: Sequence[str],
        upstream: PartitionsDefinition,
        downstream: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """All downstream keys, if any upstream key is given."""
        if downstream is None or not upstream_keys:
            return []
        return list(downstream.get_partition_keys(now_or(current_time), dynamic_partitions))


@dataclass(frozen=True)
class LastPartitionMapping(PartitionMapping):
    """Every downstream partition reads only the latest upstream partition.

    Example:
        >>> from datetime import datetime, UTC
        >>> from raystra.definitions._partitions import DailyPartitionsDefinition
        >>> daily = DailyPartitionsDefinition("2024-01-01")
        >>> LastPartitionMapping().upstream_keys(
        ...     [], None, daily, current_time=datetime(2024, 1, 10, tzinfo=UTC)
        ... )
        ['2024-01-09']
    """

    def upstream_keys(
        self,
        downstream_keys: Sequence[str],
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """The last upstream key (none if there are no upstream partitions yet)."""
        now = now_or(current_time)
        count = upstream.count(now, dynamic_partitions)
        return upstream._keys_between(count - 1, count, now, dynamic_partitions) if count else []

    def downstream_keys(
        self,
        upstream_keys: Sequence[str],
        upstream: PartitionsDefinition,
        downstream: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """All downstream keys, if the last upstream key is among ``upstream_keys``."""
        now = now_or(current_time)
        last = self.upstream_keys([], None, upstream, current_time=now)
        if downstream is None or not last or last[0] not in set(upstream_keys):
            return []
        return list(downstream.get_partition_keys(now, dynamic_partitions))


@dataclass(frozen=True, init=False)
class StaticPartitionMapping(PartitionMapping):
    """An explicit map from each upstream key to the downstream key(s) that read it.

    Example:
        >>> mapping = StaticPartitionMapping({"eu-raw": "eu", "us-raw": ["us", "ca"]})
        >>> from raystra.definitions._partitions import StaticPartitionsDefinition
        >>> up = StaticPartitionsDefinition(["eu-raw", "us-raw"])
        >>> down = StaticPartitionsDefinition(["eu", "us", "ca"])
        >>> mapping.upstream_keys(["ca"], down, up), mapping.downstream_keys(["us-raw"], up, down)
        (['us-raw'], ['us', 'ca'])
    """

    pairs: tuple[tuple[str, frozenset[str]], ...]

    def __init__(
        self,
        downstream_partition_keys_by_upstream_partition_key: Mapping[str, str | Collection[str]],
    ) -> None:
        pairs = tuple(
            (up, frozenset([downs] if isinstance(downs, str) else downs))
            for up, downs in downstream_partition_keys_by_upstream_partition_key.items()
        )
        object.__setattr__(self, "pairs", pairs)

    @property
    def downstream_partition_keys_by_upstream_partition_key(self) -> dict[str, frozenset[str]]:
        """``{upstream key: downstream keys}`` as given."""
        return dict(self.pairs)

    def __repr__(self) -> str:
        shown = {up: sorted(downs) for up, downs in self.pairs}
        return f"StaticPartitionMapping({shown!r})"

    def upstream_keys(
        self,
        downstream_keys: Sequence[str],
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """Upstream keys mapped to any of ``downstream_keys``."""
        wanted = set(downstream_keys)
        ups = [up for up, downs in self.pairs if downs & wanted]
        fail = missing_upstream(self, upstream)
        return in_order(ups, upstream, now_or(current_time), dynamic_partitions, on_missing=fail)

    def downstream_keys(
        self,
        upstream_keys: Sequence[str],
        upstream: PartitionsDefinition,
        downstream: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """Downstream keys that any of ``upstream_keys`` map to (existing ones only)."""
        if downstream is None:
            return []
        given = set(upstream_keys)
        downs = [down for up, mapped in self.pairs if up in given for down in sorted(mapped)]
        return in_order(downs, downstream, now_or(current_time), dynamic_partitions)

    def check_compatible(
        self, upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
    ) -> str | None:
        """Keys of static definitions on either side must exist."""
        if downstream is None:
            return "the downstream asset is not partitioned, so there is no key to map to"
        if isinstance(upstream, StaticPartitionsDefinition):
            known = set(upstream.partition_keys)
            extra = [up for up, _ in self.pairs if up not in known]
            if extra:
                return f"upstream keys {quote_keys(extra)} are not partitions of {upstream}"
        if isinstance(downstream, StaticPartitionsDefinition):
            known = set(downstream.partition_keys)
            extra = sorted({d for _, downs in self.pairs for d in downs} - known)
            if extra:
                return f"downstream keys {quote_keys(extra)} are not partitions of {downstream}"
        return None
