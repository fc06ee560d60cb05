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
