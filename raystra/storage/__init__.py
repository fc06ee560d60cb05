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
    "open_storage",
    "raystra_home",
]


def open_storage(url: str | None = None) -> RunStorage:
    """Open the run storage at ``url``, else ``$RAYSTRA_STORAGE_URL``, else SQLite in home.

    The database is created, or upgraded to the current schema, on first open.

    Args:
        url: A SQLAlchemy URL such as ``sqlite:////tmp/runs.db`` or
            ``postgresql+psycopg://user@host/raystra``.

    Example:
        >>> storage = open_storage("sqlite:////tmp/raystra-example/raystra.db")  # doctest: +SKIP
    """
    # Imported here so `raystra.storage` stays importable without loading SQLAlchemy.
    from raystra.storage.sql import SqlRunStorage

    resolved = url or os.environ.get("RAYSTRA_STORAGE_URL")
    if not resolved:
        resolved = f"sqlite:///{raystra_home() / 'raystra.db'}"
    return SqlRunStorage(resolved)
