"""Shared fixtures: every test gets its own RAYSTRA_HOME, so runs and files never leak."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def raystra_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point RAYSTRA_HOME (SQLite run storage, default Parquet storage) at a fresh directory."""
    home = tmp_path / "raystra_home"
    monkeypatch.setenv("RAYSTRA_HOME", str(home))
    monkeypatch.delenv("RAYSTRA_STORAGE_URL", raising=False)
    # Unit tests run steps in-process; Ray tests ask for executor="ray" (or set this) and use
    # the one Ray the session shares.
    monkeypatch.setenv("RAYSTRA_EXECUTOR", "in_process")
    # Telemetry is configured by environment: a developer's own OTEL_*/OPENLINEAGE_* settings
    # must not leak into tests (tests that trace set their own).
    for name in [n for n in os.environ if n.startswith(("OTEL_", "OPENLINEAGE_"))]:
        monkeypatch.delenv(name)
    return home


# --- PostgreSQL: a throwaway server from the machine's binaries (see tests/postgres_server.py) --
# Imported here, not at the top: this block is appended to a file other fixtures also extend.
from collections.abc import Iterator  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from postgres_server import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server on 127.0.0.1 for the session, stopped by its PID at the end.

    Skipped when PostgreSQL's binaries or the psycopg driver are missing, except in CI
    (``CI=true``, set by `.ci/run`), where that is a failure: CI must test Postgres.

    Example:
        >>> def test_on_postgres(postgres_server):  # doctest: +SKIP
        ...     storage = SqlRunStorage(postgres_server.create_database())
    """
    from postgres_server import find_postgres_bindir, start_postgres

    bindir = find_postgres_bindir()
    missing = []
    if bindir is None:
        missing.append(
            "PostgreSQL server binaries (initdb, postgres; `apt-get install postgresql`)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing.append("the psycopg driver (`pip install 'psycopg[binary]'`)")
    if missing:
        reason = f"Postgres tests need {' and '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run them (.ci/run installs PostgreSQL).")
        pytest.skip(reason)
    assert bindir is not None
    server = start_postgres(bindir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql+psycopg://...`` URL of the session server's (initially empty) database.

    Shared by the whole session: tests that need an empty database of their own call
    ``postgres_server.create_database()`` instead.

    Example:
        >>> def test_url(postgres_url):  # doctest: +SKIP
        ...     open_storage(postgres_url).close()
    """
    return postgres_server.url
