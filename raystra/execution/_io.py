"""Finding IO managers and resources for a step, resolving `EnvVar` secrets where it runs."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from raystra.definitions import ConfigurableResource, Definitions, IOManager, raystra_home
from raystra.definitions._node import DEFAULT_IO_MANAGER_KEY
from raystra.errors import MissingResourceError

__all__ = [
    "DEFAULT_IO_MANAGER_KIND",
    "load_io_manager_class",
    "resolve_resources",
    "with_pinned_default_io_manager",
]

# The default IO manager is a plug-in found by entry point (group ``raystra.io_managers``),
# so the core never imports ``raystra_io``.
DEFAULT_IO_MANAGER_KIND = "parquet"


@functools.cache
def load_io_manager_class(kind: str) -> type[IOManager]:
    """Load the IO manager class registered under entry point ``kind``."""
    for entry in entry_points(group="raystra.io_managers"):
        if entry.name == kind:
            loaded = entry.load()
            assert isinstance(loaded, type) and issubclass(loaded, IOManager)
            return loaded
    raise MissingResourceError(
        f"No IO manager plug-in named {kind!r} is installed (entry point group "
        "'raystra.io_managers'). Reinstall raystra (`pip install -e .`), which ships raystra_io, "
        "or provide resources={'io_manager': ...} in Definitions."
    )


@functools.cache
def _default_io_manager() -> IOManager:
    return load_io_manager_class(DEFAULT_IO_MANAGER_KIND)()


def with_pinned_default_io_manager(defs: Definitions) -> Definitions:
    """``defs`` with the default IO manager made explicit, its storage path fixed here.

    Executors that ship definitions to other processes (Ray workers) call this on the driver:
    a worker's own ``$RAYSTRA_HOME`` may differ from the driver's, and outputs must land where
    the driver (and the next run) will look for them.
    """
    if DEFAULT_IO_MANAGER_KEY in defs.resources:
        return defs
    base_path = str(raystra_home() / "storage")
    manager = load_io_manager_class(DEFAULT_IO_MANAGER_KIND)(base_path=base_path)  # type: ignore[call-arg]
    return defs.with_resources({DEFAULT_IO_MANAGER_KEY: manager})


def resolve_resources(
    defs: Definitions, keys: Iterable[str]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The resources named by ``keys``, `EnvVar` fields resolved, and the secret values read.

    Call this where the step runs: environment variables are read here, never earlier.
    """
    resolved: dict[str, Any] = {}
    secrets: list[str] = []
    provided: Mapping[str, Any] = defs.resources
    for key in sorted(set(keys)):
        if key in provided:
            value = provided[key]
        elif key == DEFAULT_IO_MANAGER_KEY:
            value = _default_io_manager()
        else:  # Definitions validated this; a plan built elsewhere could still miss one.
            raise MissingResourceError(f"Resource {key!r} is not provided by the Definitions.")
        if isinstance(value, ConfigurableResource) and not _known_static(value):
            resolved_value, found = value.resolved(resource_key=key)
            if resolved_value is value and not found:
                _remember_static(value)
            value = resolved_value
            secrets.extend(found)
        resolved[key] = value
    return resolved, tuple(secrets)


# Resources known to hold no `EnvVar` (resolving them returns themselves), by id, with the
# resource kept so the id stays its own. Asking again costs pydantic a raised AttributeError
# per private attribute read, a large part of a trivial step's work.
_STATIC: dict[int, ConfigurableResource] = {}
_STATIC_KEPT = 256


def _known_static(resource: ConfigurableResource) -> bool:
    return _STATIC.get(id(resource)) is resource


def _remember_static(resource: ConfigurableResource) -> None:
    if len(_STATIC) >= _STATIC_KEPT:
        _STATIC.clear()
    _STATIC[id(resource)] = resource
