"""`DaskResource`: choose the Dask scheduler for everything a step computes with Dask."""

from __future__ import annotations

import contextlib

from pydantic import PrivateAttr

from raystra.definitions import ConfigurableResource
from raystra_dask._scheduler import SchedulerName, active_scheduler, dask_scheduler

__all__ = ["DaskResource"]


class DaskResource(ConfigurableResource):
    """Puts the step's own Dask calls (``.compute()``, ``.persist()``, ``len(ddf)``) on Ray.

    Without it, only the work raystra starts (writing a returned Dask DataFrame) is placed on
    Ray's scheduler; the asset requesting it gets the scheduler set for the whole step, from
    before the asset function runs until its outputs are stored.

    Attributes:
        scheduler: ``"auto"`` (default): Ray's Dask scheduler when the step runs on Ray, else
            Dask's threaded one. ``"ray"`` requires Ray; ``"threads"`` and ``"sync"`` keep the
            work inside the step's process (``"sync"`` for debugging).

    Example:
        >>> import dask.dataframe as dd
        >>> from raystra import AssetSpec, Definitions, asset
        >>> @asset
        ... def big_orders(orders: dd.DataFrame, dask: DaskResource) -> dd.DataFrame:
        ...     threshold = orders.amount.quantile(0.99).compute()  # runs on Ray
        ...     return orders[orders.amount > threshold]
        >>> defs = Definitions(
        ...     assets=[AssetSpec("orders"), big_orders], resources={"dask": DaskResource()}
        ... )
        >>> DaskResource().scheduler
        'auto'
    """

    scheduler: SchedulerName = "auto"

    # Open scopes (a list, not one slot: a resource may be shared by nested step runs).
    _scopes: list[contextlib.AbstractContextManager[str]] = PrivateAttr(default_factory=list)

    def setup_for_execution(self) -> None:
        """Install the scheduler for the step (raystra calls this before the asset runs)."""
        scope = dask_scheduler(self.scheduler)
        scope.__enter__()
        self._scopes.append(scope)

    def teardown_after_execution(self) -> None:
        """Restore the scheduler the process had before the step."""
        while self._scopes:
            self._scopes.pop().__exit__(None, None, None)

    @property
    def active_scheduler(self) -> str | None:
        """The scheduler in effect now: ``"ray"``, ``"threads"`` or ``"sync"`` (None outside a
        step when nothing is configured)."""
        return active_scheduler()
