"""What `Definitions` needs from a schedule or sensor (they live in `raystra.automation`).

Schedules and sensors resolve selections and launch runs, which the definitions layer knows
nothing about; `Definitions` only holds them, checks their names are unique and asks each to
validate itself against the finished asset graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from raystra.definitions._definitions import Definitions

__all__ = ["InstigatorDefinition"]


@runtime_checkable
class InstigatorDefinition(Protocol):
    """A schedule or sensor as `Definitions` sees it.

    Example:
        >>> class Nightly:
        ...     name, kind = "nightly", "schedule"
        ...     def validate_for(self, definitions): ...
        >>> isinstance(Nightly(), InstigatorDefinition)
        True
    """

    name: str
    kind: str  # "schedule" or "sensor"

    def validate_for(self, definitions: Definitions) -> None:
        """Raise a raystra error naming this instigator if its target does not exist."""
