"""Dynamic partitions: keys added at runtime (by sensors, the CLI or the API) to run storage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from raystra.definitions._keys import validate_name
from raystra.definitions._partitions._base import (
    DynamicPartitionsStore,
    PartitionsDefinition,
    check_key_chars,
    close_keys,
    quote_keys,
)
from raystra.errors import PartitionKeyError

__all__ = ["DynamicPartitionsDefinition", "InMemoryDynamicPartitionsStore"]


class DynamicPartitionsDefinition(PartitionsDefinition):
    """Partitions whose keys are added and deleted at runtime, stored under ``name``.

    The keys live in run storage, so every question about them takes a
    `DynamicPartitionsStore` (``dynamic_partitions=``); `InMemoryDynamicPartitionsStore` serves
    tests. Two definitions with the same name share their keys.

    Example:
        >>> customers = DynamicPartitionsDefinition("customers")
        >>> store = InMemoryDynamicPartitionsStore()
        >>> store.add_dynamic_partitions("customers", ["acme", "globex"])
        >>> customers.get_partition_keys(dynamic_partitions=store)
        ['acme', 'globex']
    """

    def __init__(self, name: str) -> None:
        self.name = validate_name(name, what="DynamicPartitionsDefinition name")

    def _identity(self) -> tuple[object, ...]:
        return ("dynamic", self.name)

    def __repr__(self) -> str:
        return f"DynamicPartitionsDefinition({self.name!r})"

    def describe(self) -> str:
        """E.g. ``dynamic partitions 'customers'``.

        Example:
            >>> DynamicPartitionsDefinition("customers").describe()
            "dynamic partitions 'customers'"
        """
        return f"dynamic partitions {self.name!r}"

    @property
    def expected_format(self) -> str:
        """A key previously added under this definition's name."""
        return f"a key added to dynamic partitions {self.name!r}"

    def _store(self, dynamic: DynamicPartitionsStore | None) -> DynamicPartitionsStore:
        if dynamic is None:
            raise PartitionKeyError(
                f"The keys of {self.describe()} live in run storage, so raystra needs a store to "
                f"read them: pass dynamic_partitions=<run storage> (in tests, an "
                f"InMemoryDynamicPartitionsStore with add_dynamic_partitions({self.name!r}, "
                "[...]))."
            )
        return dynamic

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> Sequence[str]:
        """The keys added so far, in insertion order; needs ``dynamic_partitions``."""
        return list(self._store(dynamic_partitions).get_dynamic_partitions(self.name))

    def _key_problem(
        self, key: str, current_time: datetime | None, dynamic: DynamicPartitionsStore | None
    ) -> tuple[str, list[str]]:
        keys = self.get_partition_keys(current_time, dynamic)
        if not keys:
            return f"no keys have been added yet (add_dynamic_partitions({self.name!r}, ...))", []
        return f"it has not been added (there are {len(keys)} keys)", close_keys(key, keys)


class InMemoryDynamicPartitionsStore:
    """A `DynamicPartitionsStore` held in a dict: the reference implementation, for tests.

    Example:
        >>> store = InMemoryDynamicPartitionsStore()
        >>> store.add_dynamic_partitions("files", ["a.csv", "b.csv"])
        >>> store.delete_dynamic_partition("files", "a.csv")
        >>> store.get_dynamic_partitions("files"), store.has_dynamic_partition("files", "b.csv")
        (['b.csv'], True)
    """

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, None]] = {}  # dicts keep insertion order

    def get_dynamic_partitions(self, name: str) -> list[str]:
        """The keys of ``name``, in the order they were added."""
        return list(self._keys.get(name, {}))

    def has_dynamic_partition(self, name: str, key: str) -> bool:
        """True if ``key`` has been added to ``name`` (and not deleted)."""
        return key in self._keys.get(name, {})

    def add_dynamic_partitions(self, name: str, keys: Iterable[str]) -> None:
        """Add ``keys`` to ``name``; keys already present are left where they are."""
        if isinstance(keys, str):
            keys = [keys]
        where = f"add_dynamic_partitions({name!r})"
        checked = [check_key_chars(key, where=where, error=PartitionKeyError) for key in keys]
        bucket = self._keys.setdefault(name, {})
        for key in checked:
            bucket.setdefault(key, None)

    def delete_dynamic_partition(self, name: str, key: str) -> None:
        """Remove ``key`` from ``name``; raises `PartitionKeyError` if it isn't there."""
        bucket = self._keys.get(name, {})
        if key not in bucket:
            keys = list(bucket)
            near = f" Nearest keys: {quote_keys(close_keys(key, keys))}." if keys else ""
            raise PartitionKeyError(
                f"Can't delete partition {key!r} of dynamic partitions {name!r}: it was never "
                f"added.{near}"
            )
        del bucket[key]
