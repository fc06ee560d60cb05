"""Concurrency limits for a run: ``--max-concurrent`` and named pools from `Definitions`."""

from __future__ import annotations

from collections.abc import Mapping

from raystra.planning import Step

__all__ = ["ConcurrencyLimits"]


class ConcurrencyLimits:
    """Counts running steps per limit; a limited step starts only when every limit has room.

    A step is limited by ``max_concurrent`` (every step of the run) and by its pool's limit,
    if its pool has one. Pools without a limit are unlimited, as in Dagster.

    Example:
        >>> from raystra.planning import Step
        >>> limits = ConcurrencyLimits(max_concurrent=None, pools={"db": 1})
        >>> step = Step(key="a", node_name="a", kind="asset", pool="db")
        >>> limits.try_acquire(step), limits.try_acquire(step)
        (True, False)
    """

    def __init__(self, *, max_concurrent: int | None, pools: Mapping[str, int]) -> None:
        self._max_concurrent = max_concurrent
        self._pools = dict(pools)
        self._running_total = 0
        self._running_in_pool: dict[str, int] = {}

    @property
    def active(self) -> bool:
        """True when any limit applies at all."""
        return self._max_concurrent is not None or bool(self._pools)

    def is_limited(self, step: Step) -> bool:
        """True when some limit applies to ``step``."""
        return self._max_concurrent is not None or (
            step.pool is not None and step.pool in self._pools
        )

    def try_acquire(self, step: Step) -> bool:
        """Take a slot for ``step`` if every limit on it has room."""
        if self._max_concurrent is not None and self._running_total >= self._max_concurrent:
            return False
        pool_limit = self._pools.get(step.pool) if step.pool is not None else None
        running = self._running_in_pool.get(step.pool or "", 0)
        if pool_limit is not None and running >= pool_limit:
            return False
        self._running_total += 1
        if step.pool is not None:
            self._running_in_pool[step.pool] = running + 1
        return True

    def release(self, step: Step) -> None:
        """Give back the slot ``step`` took."""
        self._running_total -= 1
        if step.pool is not None:
            self._running_in_pool[step.pool] -= 1
