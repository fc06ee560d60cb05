"""Run storage: where runs, their events and the materialization index live.

`open_storage` returns the configured storage: SQLite under `raystra_home` by default, or any
SQLAlchemy URL from ``$RAYSTRA_STORAGE_URL``. Executors write through a `BatchingEventWriter`.

Example:
    >>> import tempfile
    >>> storage = open_storage(f"sqlite:///{tempfile.mkdtemp()}/raystra.db")
    >>> storage.get_runs()
    []
    >>> storage.close()
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from raystra.definitions._home import raystra_home
from raystra.storage._base import (
    MaterializationRecord,
    RunRecord,
    RunStorage,
    StepStats,
    StoredEvent,
)
from raystra.storage._batching import BatchingEventWriter

__all__ = [
    "BatchingEventWriter",
    "MaterializationRecord",
    "RunRecord",
    "RunStorage",
    "StepStats",
    "StoredEvent",
    "configured_storage_url",
    "open_storage",
    "raystra_home",
]


def configured_storage_url(cwd: Path | None = None) -> str | None:
    """The storage URL configured for this project: ``$RAYSTRA_STORAGE_URL``, else
    ``storage_url`` under ``[tool.raystra]`` in the nearest ``pyproject.toml``.

    ``$VARS`` in the configured URL are expanded, so a password can stay in the environment
    (psycopg also reads ``PGPASSWORD`` itself). None means the default SQLite in home.

    Example:
        >>> import os
        >>> os.environ["RAYSTRA_STORAGE_URL"] = "sqlite:////tmp/runs.db"
        >>> configured_storage_url()
        'sqlite:////tmp/runs.db'
        >>> del os.environ["RAYSTRA_STORAGE_URL"]
    """
    if os.environ.get("RAYSTRA_STORAGE_URL"):
        return os.environ["RAYSTRA_STORAGE_URL"]
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("raystra")
        except (OSError, tomllib.TOMLDecodeError):
            return None  # `raystra check` reports a broken pyproject.toml
        if isinstance(table, dict):
            url = table.get("storage_url")
            return os.path.expandvars(url) if isinstance(url, str) and url else None
    return None


def open_storage(url: str | None = None) -> RunStorage:
    """Open the run storage at ``url``, else the configured one (`configured_storage_url`),
    else SQLite in home.

    The database is created, or upgraded to the current schema, on first open.

    Args:
        url: A SQLAlchemy URL such as ``sqlite:////tmp/runs.db`` or
            ``postgresql+psycopg://user@host/raystra``.

    Example:
        >>> storage = open_storage("sqlite:////tmp/raystra-example/raystra.db")  # doctest: +SKIP
    """
    # Imported here so `raystra.storage` stays importable without loading SQLAlchemy.
    from raystra.storage.sql import SqlRunStorage

    resolved = url or configured_storage_url()
    if not resolved:
        resolved = f"sqlite:///{raystra_home() / 'raystra.db'}"
    return SqlRunStorage(resolved)
