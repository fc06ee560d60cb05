"""How a backfill groups partitions into runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from raystra.errors import InvalidDefinitionError

__all__ = ["BackfillPolicy"]


@dataclass(frozen=True)
class BackfillPolicy:
    """Whether a backfill of an asset runs all its partitions at once or in batches.

    ``max_partitions_per_run=None`` means one run for every partition (the asset sees a
    partition range); ``N`` means runs of at most ``N`` partitions each.

    Example:
        >>> BackfillPolicy.multi_run(2).batches(["a", "b", "c", "d", "e"])
        [['a', 'b'], ['c', 'd'], ['e']]
        >>> BackfillPolicy.single_run().batches(["a", "b", "c"])
        [['a', 'b', 'c']]
    """

    max_partitions_per_run: int | None = None

    def __post_init__(self) -> None:
        limit = self.max_partitions_per_run
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
            raise InvalidDefinitionError(
                f"BackfillPolicy(max_partitions_per_run={limit!r}): use an integer of 1 or more, "
                "or BackfillPolicy.single_run()."
            )
        if limit is not None and limit < 1:
            raise InvalidDefinitionError(
                f"BackfillPolicy(max_partitions_per_run={limit}): runs need at least 1 "
                "partition; use BackfillPolicy.multi_run(1) for one run per partition."
            )

    @classmethod
    def single_run(cls) -> BackfillPolicy:
        """One run covers every requested partition."""
        return cls(max_partitions_per_run=None)

    @classmethod
    def multi_run(cls, max_partitions_per_run: int = 1) -> BackfillPolicy:
        """Runs of at most ``max_partitions_per_run`` partitions each."""
        return cls(max_partitions_per_run=max_partitions_per_run)

    @property
    def is_single_run(self) -> bool:
        """True when every partition goes into one run."""
        return self.max_partitions_per_run is None

    def batches(self, partition_keys: Sequence[str]) -> list[list[str]]:
        """Split ``partition_keys`` (in order) into the key lists of the runs to launch."""
        keys = list(partition_keys)
        if not keys:
            return []
        size = self.max_partitions_per_run or len(keys)
        return [keys[start : start + size] for start in range(0, len(keys), size)]
