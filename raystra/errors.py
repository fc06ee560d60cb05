"""Every error raystra raises on purpose.

Each message is one readable paragraph that names the culprit (asset, field, file) and says how
to fix it, so the CLI can print it as-is without a traceback.
"""

from __future__ import annotations

__all__ = [
    "CycleError",
    "DefinitionsLoadError",
    "DuplicateKeyError",
    "InputNotFoundError",
    "InvalidDefinitionError",
    "InvalidNameError",
    "MissingResourceError",
    "NothingToRunError",
    "PartitionKeyError",
    "PartitionMappingError",
    "RaystraError",
    "RunConfigError",
    "RunNotFoundError",
    "SelectionError",
    "StepExecutionError",
    "UnknownAssetError",
]


class RaystraError(Exception):
    """Base class of every error raystra raises on purpose.

    Example:
        >>> try:
        ...     raise RaystraError("something went wrong")
        ... except RaystraError as err:
        ...     str(err)
        'something went wrong'
    """


class InvalidNameError(RaystraError, ValueError):
    """A name (asset key part, op name, group, resource key) has characters raystra rejects."""


class InvalidDefinitionError(RaystraError, ValueError):
    """An asset, op or job was declared inconsistently (e.g. an `ins` entry with no parameter)."""


class DuplicateKeyError(RaystraError):
    """Two definitions claim the same asset key or node name."""


class UnknownAssetError(RaystraError, KeyError):
    """A dependency or selection names an asset that is not defined."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class CycleError(RaystraError):
    """The dependency graph has a cycle; `cycle` holds the path, first node repeated at the end."""

    def __init__(self, message: str, cycle: list[str]) -> None:
        super().__init__(message)
        self.cycle = cycle


class MissingResourceError(RaystraError):
    """An asset or op needs a resource key that no `Definitions(resources=...)` entry provides."""


class RunConfigError(RaystraError, ValueError):
    """Run config failed validation; `errors` lists `(field path, message)` pairs."""

    def __init__(self, message: str, errors: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


class SelectionError(RaystraError, ValueError):
    """A selection string could not be parsed or matched nothing it should have."""


class NothingToRunError(SelectionError):
    """A valid request that selects no work: everything asked for is already fresh or done.

    The CLI reports it and exits 0; callers polling for work (sensors) can catch it.

    Example:
        >>> try:
        ...     raise NothingToRunError("Nothing is stale in the selection.")
        ... except SelectionError as err:  # a NothingToRunError is a SelectionError
        ...     str(err)
        'Nothing is stale in the selection.'
    """


class DefinitionsLoadError(RaystraError):
    """The CLI could not find or import the user's definitions (module, file or pyproject)."""


class RunNotFoundError(RaystraError, LookupError):
    """No run with the given id exists in the run storage."""


class StepExecutionError(RaystraError):
    """Raised by `materialize(..., raise_on_error=True)` when a step of the run failed."""


class InputNotFoundError(RaystraError, FileNotFoundError):
    """An IO manager was asked to load a value that was never stored (or was deleted)."""


class PartitionKeyError(RaystraError, ValueError):
    """A partition key (or key range) is not valid for the asset's partitions definition.

    The message names the asset, the definition, the expected key format and the nearest valid
    keys, so it can be shown as-is.
    """


class PartitionMappingError(InvalidDefinitionError):
    """Raystra can't map partitions between an asset and one of its upstream assets.

    Raised when no default mapping fits two partitions definitions (the message names the asset,
    the input and both definitions, and spells out the ``partition_mapping`` to pass), and when a
    mapping would read upstream partitions that don't exist.
    """
