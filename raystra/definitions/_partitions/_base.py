"""The partitions contract: `PartitionsDefinition`, key ranges, time windows and key checks.

Every definition answers the same few questions (which keys exist now, where a key sits, is a
key valid) and builds its own error text, so a bad key is reported the same way whether it came
from the CLI, a backfill or a sensor.
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

from raystra.errors import PartitionKeyError, RaystraError

__all__ = [
    "DynamicPartitionsStore",
    "PartitionKeyRange",
    "PartitionsDefinition",
    "TimeWindow",
]

# Characters a partition key may not hold, and why: keys become path parts, join multi-partition
# keys, and are listed on the command line.
_RESERVED = {
    "/": "separates path parts in storage",
    "\\": "separates path parts on Windows",
    "|": "joins the keys of multi-partitions",
    ",": "separates keys on the command line",
    "=": "marks hive-style path parts (name=value)",
}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_KEY_LENGTH = 255  # the storage index column's width


def check_key_chars(key: object, *, where: str, error: type[RaystraError]) -> str:
    """Return ``key`` if it can be a partition key, else raise ``error`` naming the problem.

    Example:
        >>> check_key_chars("eu-west", where="StaticPartitionsDefinition", error=RaystraError)
        'eu-west'
    """
    if not isinstance(key, str) or not key:
        raise error(f"{where}: partition keys must be non-empty strings, got {key!r}.")
    for char, why in _RESERVED.items():
        if char in key:
            fixed = key.replace(char, "_")
            raise error(
                f"{where}: partition key {key!r} contains {char!r}, which raystra reserves "
                f"because it {why}. Use another character, e.g. {fixed!r}."
            )
    if _CONTROL_RE.search(key):
        raise error(f"{where}: partition key {key!r} contains a control character (e.g. \\n).")
    if len(key) > MAX_KEY_LENGTH:
        raise error(
            f"{where}: partition key {key[:40]!r}... is {len(key)} characters long; "
            f"keys may be at most {MAX_KEY_LENGTH}."
        )
    return key


def quote_keys(keys: Sequence[str], *, limit: int = 5) -> str:
    """``'a', 'b', 'c'`` with at most ``limit`` keys, then ``... (N keys)``.

    Example:
        >>> quote_keys(["a", "b", "c"], limit=2)
        "'a', 'b', ... (3 keys)"
    """
    shown = ", ".join(repr(key) for key in keys[:limit])
    return shown if len(keys) <= limit else f"{shown}, ... ({len(keys)} keys)"


def close_keys(key: str, keys: Sequence[str], *, n: int = 3) -> list[str]:
    """Keys spelled like ``key`` (difflib), else the first ``n`` keys.

    Example:
        >>> close_keys("gren", ["red", "green", "blue"])
        ['green']
    """
    return difflib.get_close_matches(key, keys, n=n, cutoff=0.6) or list(keys[:n])


class TimeWindow(NamedTuple):
    """A half-open interval ``[start, end)`` of time-zone-aware datetimes.

    Example:
        >>> from datetime import datetime, UTC
        >>> window = TimeWindow(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
        >>> window.end - window.start
        datetime.timedelta(days=1)
    """

    start: datetime
    end: datetime


@dataclass(frozen=True)
class PartitionKeyRange:
    """An inclusive range of partition keys, ``start`` through ``end``, in definition order.

    Example:
        >>> PartitionKeyRange("2024-01-01", "2024-01-07")
        PartitionKeyRange(start='2024-01-01', end='2024-01-07')
    """

    start: str
    end: str


@runtime_checkable
class DynamicPartitionsStore(Protocol):
    """Where the keys of `DynamicPartitionsDefinition`\\ s live (the run storage, in production).

    `InMemoryDynamicPartitionsStore` is the in-process reference implementation.

    Example:
        >>> class FixedStore:
        ...     def get_dynamic_partitions(self, name: str) -> list[str]:
        ...         return ["a", "b"]
        >>> isinstance(FixedStore(), DynamicPartitionsStore)
        True
    """

    def get_dynamic_partitions(self, name: str) -> Sequence[str]:
        """The keys added so far to the dynamic partitions called ``name``, in insertion order."""
        ...


class PartitionsDefinition(ABC):
    """How an asset is split into partitions, each named by a string key.

    Subclasses define which keys exist (possibly depending on the current time or on a
    `DynamicPartitionsStore`) and describe themselves; this base class turns that into key
    validation, ranges and readable errors. Definitions compare and hash by value and pickle.

    Example:
        >>> from raystra.definitions._partitions import StaticPartitionsDefinition
        >>> colors = StaticPartitionsDefinition(["red", "green", "blue"])
        >>> colors.get_partition_keys_in_range(PartitionKeyRange("green", "blue"))
        ['green', 'blue']
        >>> colors == StaticPartitionsDefinition(["red", "green", "blue"])
        True
    """

    @abstractmethod
    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> Sequence[str]:
        """Every partition key that exists at ``current_time`` (default: now), in order."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description, e.g. ``daily partitions from 2024-01-01 (...)``."""

    @property
    @abstractmethod
    def expected_format(self) -> str:
        """What a valid key looks like, with an example, for error messages."""

    @abstractmethod
    def _identity(self) -> tuple[object, ...]:
        """The values that make two definitions equal."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartitionsDefinition):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __str__(self) -> str:
        return self.describe()

    def count(
        self,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> int:
        """How many partitions exist at ``current_time`` (default: now)."""
        return len(self.get_partition_keys(current_time, dynamic_partitions))

    def key_index(
        self,
        key: str,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> int:
        """The position of ``key`` in `get_partition_keys`; raises `PartitionKeyError`."""
        index = self._lookup(key, current_time, dynamic_partitions)
        if index is None:
            raise self._key_error(key, None, current_time, dynamic_partitions)
        return index

    def has_partition_key(
        self,
        key: str,
        *,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> bool:
        """True if ``key`` is one of the partitions that exist at ``current_time``."""
        return self._lookup(key, current_time, dynamic_partitions) is not None

    def validate_key(
        self,
        key: str,
        *,
        asset: str | None = None,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> str:
        """Return ``key`` if it is a partition, else raise `PartitionKeyError` naming ``asset``.

        Example:
            >>> from raystra.definitions._partitions import StaticPartitionsDefinition
            >>> colors = StaticPartitionsDefinition(["red", "green"])
            >>> colors.validate_key("red", asset="paint")
            'red'
            >>> colors.validate_key("gren", asset="paint")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            raystra.errors.PartitionKeyError: Partition key 'gren' ... keys: 'green'. ...
        """
        if self._lookup(key, current_time, dynamic_partitions) is None:
            raise self._key_error(key, asset, current_time, dynamic_partitions)
        return key

    def validate_range(
        self,
        key_range: PartitionKeyRange,
        *,
        asset: str | None = None,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> tuple[int, int]:
        """Check both ends and their order; return their indexes ``(start, end)``, inclusive."""
        start = self._lookup(key_range.start, current_time, dynamic_partitions)
        if start is None:
            raise self._key_error(key_range.start, asset, current_time, dynamic_partitions)
        end = self._lookup(key_range.end, current_time, dynamic_partitions)
        if end is None:
            raise self._key_error(key_range.end, asset, current_time, dynamic_partitions)
        if start > end:
            who = f" for asset {asset!r}" if asset else ""
            first, last = key_range.end, key_range.start
            raise PartitionKeyError(
                f"Partition range{who} runs backwards: start {key_range.start!r} is after end "
                f"{key_range.end!r} in {self.describe()}. Swap them: "
                f"PartitionKeyRange(start={first!r}, end={last!r}); on the command line "
                f"`--from {first} --to {last}` (backfill) or `--partition-range "
                f"'{first}...{last}'` (materialize)."
            )
        return start, end

    def get_partition_keys_in_range(
        self,
        key_range: PartitionKeyRange,
        *,
        asset: str | None = None,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """The keys from ``key_range.start`` through ``key_range.end``, both included."""
        start, end = self.validate_range(
            key_range, asset=asset, current_time=current_time, dynamic_partitions=dynamic_partitions
        )
        return self._keys_between(start, end + 1, current_time, dynamic_partitions)

    def _lookup(
        self, key: object, current_time: datetime | None, dynamic: DynamicPartitionsStore | None
    ) -> int | None:
        return self._find_index(key, current_time, dynamic) if isinstance(key, str) else None

    # Hooks subclasses override for speed or better messages.

    def _find_index(
        self, key: str, current_time: datetime | None, dynamic: DynamicPartitionsStore | None
    ) -> int | None:
        keys = self.get_partition_keys(current_time, dynamic)
        try:
            return list(keys).index(key)
        except ValueError:
            return None

    def _keys_between(
        self,
        start: int,
        stop: int,
        current_time: datetime | None,
        dynamic: DynamicPartitionsStore | None,
    ) -> list[str]:
        return list(self.get_partition_keys(current_time, dynamic)[start:stop])

    def _key_problem(
        self, key: str, current_time: datetime | None, dynamic: DynamicPartitionsStore | None
    ) -> tuple[str, list[str]]:
        """Why ``key`` is not a partition, and the nearest valid keys."""
        keys = self.get_partition_keys(current_time, dynamic)
        if not keys:
            return "there are no partitions yet", []
        return "it is not one of the keys", close_keys(key, keys)

    def _key_error(
        self,
        key: str,
        asset: str | None,
        current_time: datetime | None,
        dynamic: DynamicPartitionsStore | None,
    ) -> PartitionKeyError:
        if isinstance(key, str):
            reason, nearest = self._key_problem(key, current_time, dynamic)
        else:
            reason, nearest = f"partition keys are strings, not {type(key).__name__}", []
        who = f" for asset {asset!r}" if asset else ""
        near = f" Nearest valid keys: {quote_keys(nearest)}." if nearest else ""
        return PartitionKeyError(
            f"Partition key {key!r}{who} is not a partition of {self.describe()}: {reason}."
            f"{near} Expected format: {self.expected_format}."
        )
