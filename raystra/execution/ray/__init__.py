"""The Ray executor: the only code in raystra that imports ``ray``.

Example:
    >>> import raystra
    >>> raystra.materialize(defs, executor="ray")  # doctest: +SKIP
"""

from raystra.execution.ray._cluster import InfeasibleResourceError, connect
from raystra.execution.ray._executor import RayExecutor

__all__ = ["InfeasibleResourceError", "RayExecutor", "connect"]
