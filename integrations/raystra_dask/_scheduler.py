"""Which Dask scheduler runs a step's Dask work: Ray's when Ray is up, else local threads.

raystra steps run inside Ray tasks; a Dask graph computed there with Dask's default (threaded)
scheduler would squeeze all its work into the one CPU Ray reserved for the step. Ray's Dask
scheduler (`ray.util.dask.ray_dask_get`) submits each Dask task as a Ray task instead, so the
graph spreads over the cluster and its intermediate results live in Ray's object store.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, Literal

__all__ = ["SchedulerName", "active_scheduler", "dask_scheduler", "ray_is_running"]

SchedulerName = Literal["auto", "ray", "threads", "sync"]


def ray_is_running() -> bool:
    """True when this process is connected to Ray (a Ray worker, or a driver after ray.init).

    Ray is not imported here: a process that never imported it cannot be connected to it.

    Example:
        >>> isinstance(ray_is_running(), bool)
        True
    """
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


def _resolve(name: SchedulerName) -> Literal["ray", "threads", "sync"]:
    if name == "auto":
        return "ray" if ray_is_running() else "threads"
    return name


@contextlib.contextmanager
def dask_scheduler(name: SchedulerName = "auto") -> Iterator[str]:
    """Run the Dask work inside the block on scheduler ``name``; yield the one chosen.

    ``"auto"`` picks Ray's scheduler when this process is connected to Ray and Dask's local
    threaded scheduler otherwise (the in-process executor without Ray). With ``"ray"``, Dask
    shuffles use tasks (the disk shuffle needs a filesystem shared by all nodes), as
    `ray.util.dask.enable_dask_on_ray` sets them.

    Example:
        >>> import dask
        >>> with dask_scheduler("sync") as chosen:
        ...     chosen, dask.config.get("scheduler")
        ('sync', 'sync')
    """
    import dask

    chosen = _resolve(name)
    settings: dict[str, Any]
    if chosen == "ray":
        from ray.util.dask import ray_dask_get

        settings = {"scheduler": ray_dask_get, "shuffle": "tasks"}
    else:
        settings = {"scheduler": chosen}
    with dask.config.set(settings):
        yield chosen


def active_scheduler() -> str | None:
    """The scheduler Dask would use now, by name (``"ray"``, ``"threads"`` ...), or None
    when none is configured (Dask then picks per collection: threads for DataFrames).

    Example:
        >>> with dask_scheduler("threads"):
        ...     active_scheduler()
        'threads'
    """
    import dask

    scheduler = dask.config.get("scheduler", None)
    if scheduler is None or isinstance(scheduler, str):
        return scheduler
    if getattr(scheduler, "__module__", "").startswith("ray.util.dask"):
        return "ray"
    return str(getattr(scheduler, "__qualname__", scheduler))


@contextlib.contextmanager
def step_scheduler() -> Iterator[str]:
    """The scheduler for work raystra does for a step (writing, counting): one the user set
    (a `DaskResource`, ``dask.config.set``, a distributed client) wins; else ``"auto"``."""
    current = active_scheduler()
    if current is not None:
        yield current
        return
    with dask_scheduler("auto") as chosen:
        yield chosen
