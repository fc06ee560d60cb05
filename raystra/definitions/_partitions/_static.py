"""Static partitions: a fixed list of keys, such as regions or customers known up front."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from raystra.definitions._partitions._base import (
    DynamicPartitionsStore,
    PartitionsDefinition,
    check_key_chars,
    quote_keys,
)
from raystra.errors import InvalidDefinitionError

__all__ = ["StaticPartitionsDefinition"]


class StaticPartitionsDefinition(PartitionsDefinition):
    """A fixed, ordered list of partition keys.

    Keys must be unique, non-empty and free of ``/ \\ | , =`` (they become storage path parts,
    multi-partition key parts and command-line values).

    Example:
        >>> regions = StaticPartitionsDefinition(["eu", "us", "apac"])
        >>> regions.get_partition_keys()
        ['eu', 'us', 'apac']
        >>> regions.key_index("us")
        1
    """

    def __init__(self, partition_keys: Iterable[str]) -> None:
        if isinstance(partition_keys, str):
            raise InvalidDefinitionError(
                f"StaticPartitionsDefinition takes a list of keys, got the string "
                f"{partition_keys!r}; write StaticPartitionsDefinition([{partition_keys!r}])."
            )
        keys = tuple(partition_keys)
        index: dict[str, int] = {}
        for position, key in enumerate(keys):
            check_key_chars(key, where="StaticPartitionsDefinition", error=InvalidDefinitionError)
            if key in index:
                raise InvalidDefinitionError(
                    f"StaticPartitionsDefinition: key {key!r} appears twice (positions "
                    f"{index[key]} and {position}); partition keys must be unique."
                )
            index[key] = position
        self._keys = keys
        self._index = index

    @property
    def partition_keys(self) -> tuple[str, ...]:
        """The keys, in the order given."""
        return self._keys

    def _identity(self) -> tuple[object, ...]:
        return ("static", self._keys)

    def __repr__(self) -> str:
        return f"StaticPartitionsDefinition({list(self._keys)!r})"

    def describe(self) -> str:
        """E.g. ``static partitions ['eu', 'us', 'apac']``.

        Example:
            >>> StaticPartitionsDefinition(["a", "b"]).describe()
            "static partitions ['a', 'b']"
        """
        return f"static partitions [{quote_keys(self._keys)}]"

    @property
    def expected_format(self) -> str:
        """One of the keys, e.g. ``one of 'eu', 'us', 'apac'``."""
        return f"one of {quote_keys(self._keys)}"

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> Sequence[str]:
        """All the keys, in the order given (time and store are ignored)."""
        return list(self._keys)

    def count(
        self,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> int:
        """The number of keys."""
        return len(self._keys)

    def _find_index(
        self, key: str, current_time: datetime | None, dynamic: DynamicPartitionsStore | None
    ) -> int | None:
        return self._index.get(key)

    def _keys_between(
        self,
        start: int,
        stop: int,
        current_time: datetime | None,
        dynamic: DynamicPartitionsStore | None,
    ) -> list[str]:
        return list(self._keys[start:stop])
