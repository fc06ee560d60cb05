"""`TimeWindowPartitionMapping`: read the upstream windows that overlap a downstream window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from raystra.definitions._partitions._base import DynamicPartitionsStore, PartitionsDefinition
from raystra.definitions._partitions._mappings import PartitionMapping, now_or
from raystra.definitions._partitions._time import TimeWindowPartitionsDefinition
from raystra.errors import InvalidDefinitionError, PartitionMappingError

__all__ = ["TimeWindowPartitionMapping"]


@dataclass(frozen=True)
class TimeWindowPartitionMapping(PartitionMapping):
    """A downstream time window reads the upstream windows that overlap it, widened by offsets.

    ``start_offset``/``end_offset`` move the first/last upstream window by that many upstream
    partitions: ``start_offset=-6`` on daily → daily reads a 7-day rolling window, and
    ``start_offset=-1, end_offset=-1`` reads the previous day. Granularities may differ: a
    daily partition reads its 24 hourly upstream partitions; an hourly one reads its day.

    Upstream windows that don't exist (before the first partition, or not closed yet) raise
    `PartitionMappingError`, unless ``allow_nonexistent_upstream_partitions`` drops them.

    Example:
        >>> from datetime import datetime, UTC
        >>> from raystra.definitions._partitions import DailyPartitionsDefinition
        >>> daily = DailyPartitionsDefinition("2024-01-01")
        >>> week = TimeWindowPartitionMapping(start_offset=-6)
        >>> keys = week.upstream_keys(
        ...     ["2024-01-10"], daily, daily, current_time=datetime(2024, 2, 1, tzinfo=UTC)
        ... )
        >>> keys[0], keys[-1], len(keys)
        ('2024-01-04', '2024-01-10', 7)
    """

    start_offset: int = 0
    end_offset: int = 0
    allow_nonexistent_upstream_partitions: bool = False

    def __post_init__(self) -> None:
        if self.start_offset > self.end_offset:
            raise InvalidDefinitionError(
                f"TimeWindowPartitionMapping(start_offset={self.start_offset}, "
                f"end_offset={self.end_offset}): start_offset must not be after end_offset "
                "(both count upstream partitions; e.g. start_offset=-6, end_offset=0)."
            )

    def check_compatible(
        self, upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
    ) -> str | None:
        """Both sides must be time-window partitions."""
        for side, definition in (("upstream", upstream), ("downstream", downstream)):
            if not isinstance(definition, TimeWindowPartitionsDefinition):
                what = "not partitioned" if definition is None else definition.describe()
                return f"it needs time-window partitions on both sides, but the {side} is {what}"
        return None

    def _both(
        self, upstream: PartitionsDefinition, downstream: PartitionsDefinition | None
    ) -> tuple[TimeWindowPartitionsDefinition, TimeWindowPartitionsDefinition]:
        problem = self.check_compatible(upstream, downstream)
        if problem is not None:
            raise PartitionMappingError(f"{self!r} can't be used here: {problem}.")
        assert isinstance(upstream, TimeWindowPartitionsDefinition)
        assert isinstance(downstream, TimeWindowPartitionsDefinition)
        return upstream, downstream

    def upstream_keys(
        self,
        downstream_keys: Sequence[str],
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """Keys of the upstream windows overlapping each downstream window, after offsets."""
        up, down = self._both(upstream, downstream)
        existing = up._count_at(up._now(now_or(current_time)))
        spans: list[tuple[int, int]] = []
        for key in downstream_keys:
            window = down.time_window_for_partition_key(key)
            first = up._index_at_or_before(window.start) + self.start_offset
            last = up._index_before(window.end) + self.end_offset
            if first < 0 or last >= existing:
                if not self.allow_nonexistent_upstream_partitions:
                    raise self._nonexistent(key, down, up, first, last, existing)
                first, last = max(first, 0), min(last, existing - 1)
            if first <= last:
                spans.append((first, last))
        keys: list[str] = []
        for first, last in _merge(spans):
            keys.extend(up._keys_between(first, last + 1, None, None))
        return keys

    def downstream_keys(
        self,
        upstream_keys: Sequence[str],
        upstream: PartitionsDefinition,
        downstream: PartitionsDefinition | None,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """Keys of the downstream windows whose (offset) upstream range includes a given key."""
        up, down = self._both(upstream, downstream)
        existing = down._count_at(down._now(now_or(current_time)))
        spans: list[tuple[int, int]] = []
        for key in upstream_keys:
            index = up._index_any(key)
            # Downstream d reads upstream index i iff d's window overlaps the span below.
            span_start = up._window_at(index - self.end_offset).start
            span_end = up._window_at(index - self.start_offset).end
            first = max(down._index_at_or_before(span_start), 0)
            last = min(down._index_before(span_end), existing - 1)
            if first <= last:
                spans.append((first, last))
        keys: list[str] = []
        for first, last in _merge(spans):
            keys.extend(down._keys_between(first, last + 1, None, None))
        return keys

    def _nonexistent(
        self,
        key: str,
        down: TimeWindowPartitionsDefinition,
        up: TimeWindowPartitionsDefinition,
        first: int,
        last: int,
        existing: int,
    ) -> PartitionMappingError:
        if first < 0:
            missing = (up._key_at(first), up._key_at(min(last, -1)))
            why = f"before the first upstream partition {up._key_at(0)!r}"
        else:
            missing = (up._key_at(max(first, existing)), up._key_at(last))
            why = "not closed yet (after the last upstream partition)"
        one = missing[0] == missing[1]
        span = (
            f"partition {missing[0]!r}" if one else f"partitions {missing[0]!r} to {missing[1]!r}"
        )
        return PartitionMappingError(
            f"Downstream partition {key!r} of {down.describe()} reads upstream {span} of "
            f"{up.describe()}, which {'does' if one else 'do'} not exist: "
            f"{'it is' if one else 'they are'} {why}. To skip them, use "
            f"TimeWindowPartitionMapping(start_offset={self.start_offset}, "
            f"end_offset={self.end_offset}, allow_nonexistent_upstream_partitions=True); or "
            "start the downstream asset later."
        )


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of inclusive index spans, sorted and non-overlapping."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged
