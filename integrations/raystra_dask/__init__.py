"""raystra's Dask integration: Dask DataFrames as asset values, computed on the Ray cluster.

An asset that returns a ``dask.dataframe.DataFrame`` is written by Dask itself as Parquet to the
asset's location; an input annotated ``dask.dataframe.DataFrame`` is read lazily by Dask. The
Dask work a step starts runs on Ray's Dask scheduler when the step runs on Ray. See
``docs/dask.md``.

Example:
    >>> from raystra_dask import DaskResource
    >>> DaskResource(scheduler="ray")
    DaskResource(scheduler='ray')
"""

from raystra_dask._engine import DaskEngine
from raystra_dask._resource import DaskResource
from raystra_dask._scheduler import active_scheduler, dask_scheduler

__all__ = ["DaskEngine", "DaskResource", "active_scheduler", "dask_scheduler"]
