"""Multi-dimensional partitions: the cartesian product of two or more definitions."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from raystra.definitions._keys import validate_name
from raystra.definitions._partitions._base import (
    DynamicPartitionsStore,
    PartitionsDefinition,
)
from raystra.errors import InvalidDefinitionError, PartitionKeyError, RaystraError

__all__ = ["MULTI_KEY_SEPARATOR", "MultiPartitionKey", "MultiPartitionsDefinition"]

MULTI_KEY_SEPARATOR = "|"


class MultiPartitionKey(str):
    """A multi-partition key: a plain ``str`` (dimension keys joined by ``|`` in sorted
    dimension-name order, Dagster's convention) that also knows its parts.

    Example:
        >>> key = MultiPartitionKey({"region": "eu", "date": "2024-01-01"})
        >>> key, key.keys_by_dimension
        ('2024-01-01|eu', {'date': '2024-01-01', 'region': 'eu'})
        >>> key == "2024-01-01|eu"
        True
    """

    keys_by_dimension: dict[str, str]

    def __new__(cls, keys_by_dimension: Mapping[str, str]) -> MultiPartitionKey:
        names = sorted(keys_by_dimension)
        for name in names:
            part = keys_by_dimension[name]
            if not isinstance(part, str) or MULTI_KEY_SEPARATOR in part:
                raise PartitionKeyError(
                    f"MultiPartitionKey: the {name!r} key {part!r} must be a string without "
                    f"{MULTI_KEY_SEPARATOR!r}."
                )
        key = super().__new__(cls, MULTI_KEY_SEPARATOR.join(keys_by_dimension[n] for n in names))
        key.keys_by_dimension = {name: keys_by_dimension[name] for name in names}
        return key

    @classmethod
    def from_dims(cls, keys_by_dimension: Mapping[str, str]) -> MultiPartitionKey:
        """Build a key from ``{dimension name: key}``; the same as the constructor.

        Example:
            >>> MultiPartitionKey.from_dims({"b": "x", "a": "y"})
            'y|x'
        """
        return cls(keys_by_dimension)

    def __getnewargs__(self) -> tuple[dict[str, str]]:  # type: ignore[override]
        return (dict(self.keys_by_dimension),)


class MultiPartitionsDefinition(PartitionsDefinition):
    """Partitions along two or more named dimensions; keys are every combination.

    A key joins the dimension keys with ``|`` in sorted dimension-name order, e.g.
    ``2024-01-01|eu`` for dimensions ``date`` and ``region``. Dimensions may be time-window,
    static or dynamic (any number of each; Dagster allows one time dimension, and mappings
    that need a time dimension use `MultiToSingleDimensionPartitionMapping`). Nesting a
    `MultiPartitionsDefinition` is not allowed.

    Example:
        >>> from raystra.definitions._partitions import StaticPartitionsDefinition
        >>> grid = MultiPartitionsDefinition({
        ...     "size": StaticPartitionsDefinition(["s", "l"]),
        ...     "color": StaticPartitionsDefinition(["red", "blue"]),
        ... })
        >>> grid.partition_dimension_names
        ['color', 'size']
        >>> grid.get_partition_keys()
        ['red|s', 'red|l', 'blue|s', 'blue|l']
    """

    def __init__(self, partitions_defs: Mapping[str, PartitionsDefinition]) -> None:
        if not isinstance(partitions_defs, Mapping) or len(partitions_defs) < 2:
            raise InvalidDefinitionError(
                "MultiPartitionsDefinition needs a dict of at least two dimensions, e.g. "
                "MultiPartitionsDefinition({'date': DailyPartitionsDefinition('2024-01-01'), "
                "'region': StaticPartitionsDefinition(['eu', 'us'])})."
            )
        dims: list[tuple[str, PartitionsDefinition]] = []
        for name in sorted(partitions_defs):
            validate_name(name, what="Partition dimension name")
            definition = partitions_defs[name]
            if isinstance(definition, MultiPartitionsDefinition):
                raise InvalidDefinitionError(
                    f"MultiPartitionsDefinition: dimension {name!r} is itself multi-partitioned; "
                    "list its dimensions directly in the outer definition instead."
                )
            if not isinstance(definition, PartitionsDefinition):
                raise InvalidDefinitionError(
                    f"MultiPartitionsDefinition: dimension {name!r} must be a "
                    f"PartitionsDefinition, got {definition!r}."
                )
            dims.append((name, definition))
        self._dims = tuple(dims)

    @property
    def partition_dimension_names(self) -> list[str]:
        """The dimension names, sorted (the order of the parts of a key)."""
        return [name for name, _ in self._dims]

    @property
    def partitions_defs(self) -> dict[str, PartitionsDefinition]:
        """``{dimension name: definition}``, sorted by name."""
        return dict(self._dims)

    def _identity(self) -> tuple[object, ...]:
        return ("multi", self._dims)

    def __repr__(self) -> str:
        return f"MultiPartitionsDefinition({dict(self._dims)!r})"

    def describe(self) -> str:
        """E.g. ``multi-partitions (color: static partitions ['red']; size: ...)``."""
        parts = "; ".join(f"{name}: {definition.describe()}" for name, definition in self._dims)
        return f"multi-partitions ({parts})"

    @property
    def expected_format(self) -> str:
        """The dimension keys joined by ``|`` in sorted dimension order, with an example."""
        pattern = MULTI_KEY_SEPARATOR.join(f"<{name}>" for name, _ in self._dims)
        example = MULTI_KEY_SEPARATOR.join(
            _example_key(name, definition) for name, definition in self._dims
        )
        return f"{pattern} (e.g. {example!r})"

    def to_multi_key(self, key: str) -> MultiPartitionKey:
        """Split a ``|``-joined key into a `MultiPartitionKey` (checks only the part count).

        Example:
            >>> from raystra.definitions._partitions import StaticPartitionsDefinition
            >>> grid = MultiPartitionsDefinition({
            ...     "a": StaticPartitionsDefinition(["1"]), "b": StaticPartitionsDefinition(["2"])
            ... })
            >>> grid.to_multi_key("1|2").keys_by_dimension
            {'a': '1', 'b': '2'}
        """
        if isinstance(key, MultiPartitionKey):
            return key
        parts = key.split(MULTI_KEY_SEPARATOR)
        if len(parts) != len(self._dims):
            raise PartitionKeyError(
                f"Partition key {key!r} is not a partition of {self.describe()}: "
                f"{self._count_problem(parts)}. Expected format: {self.expected_format}."
            )
        return MultiPartitionKey(dict(zip(self.partition_dimension_names, parts, strict=True)))

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[MultiPartitionKey]:
        """Every combination of dimension keys (the last dimension varies fastest)."""
        names = self.partition_dimension_names
        per_dim = [
            definition.get_partition_keys(current_time, dynamic_partitions)
            for _, definition in self._dims
        ]
        return [
            MultiPartitionKey(dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*per_dim)
        ]

    def count(
        self,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> int:
        """The product of the dimensions' counts."""
        return math.prod(d.count(current_time, dynamic_partitions) for _, d in self._dims)

    def _find_index(
        self, key: str, current_time: datetime | None, dynamic: DynamicPartitionsStore | None
    ) -> int | None:
        parts = key.split(MULTI_KEY_SEPARATOR)
        if len(parts) != len(self._dims):
            return None
        index = 0
        for (_, definition), part in zip(self._dims, parts, strict=True):
            position = definition._find_index(part, current_time, dynamic)
            if position is None:
                return None
            index = index * definition.count(current_time, dynamic) + position
        return index

    def _count_problem(self, parts: Sequence[str]) -> str:
        names = ", ".join(self.partition_dimension_names)
        return (
            f"it has {len(parts)} part(s) separated by {MULTI_KEY_SEPARATOR!r}, but there are "
            f"{len(self._dims)} dimensions ({names})"
        )

    def _key_problem(
        self, key: str, current_time: datetime | None, dynamic: DynamicPartitionsStore | None
    ) -> tuple[str, list[str]]:
        parts = key.split(MULTI_KEY_SEPARATOR)
        if len(parts) != len(self._dims):
            return self._count_problem(parts), []
        for position, ((name, definition), part) in enumerate(zip(self._dims, parts, strict=True)):
            if definition._find_index(part, current_time, dynamic) is None:
                reason, nearest = definition._key_problem(part, current_time, dynamic)
                fixed = [
                    MULTI_KEY_SEPARATOR.join([*parts[:position], near, *parts[position + 1 :]])
                    for near in nearest
                ]
                return f"its {name!r} part {part!r} is not valid ({reason})", fixed
        return "it is not one of the keys", []


def _example_key(name: str, definition: PartitionsDefinition) -> str:
    try:
        keys = definition._keys_between(0, 1, None, None)
    except RaystraError:  # dynamic partitions without a store
        keys = []
    return keys[0] if keys else f"<{name}>"
