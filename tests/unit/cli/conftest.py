"""CLI fixtures: a small project on disk, an in-process runner, and a subprocess runner.

Every test gets its own RAYSTRA_HOME (root conftest). Definitions files use the default Parquet
IO manager under RAYSTRA_HOME, so separate CLI invocations (and processes) share stored values.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_testing import PROJECT, Completed, Invoke, RunCli, write
from typer.testing import CliRunner, Result

from raystra.cli.main import app


@pytest.fixture(autouse=True)
def _isolated_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """User modules loaded by one test must not leak into the next (same names, new files)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    root = str(tmp_path)
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(root):
            del sys.modules[name]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder holding ``defs.py`` (assets, a failing asset, a job)."""
    folder = tmp_path / "project"
    write(folder / "defs.py", PROJECT)
    return folder


@pytest.fixture
def defs_file(project: Path) -> Path:
    """The project's definitions file."""
    return project / "defs.py"


@pytest.fixture
def cli() -> Invoke:
    """Run the CLI in this process: ``cli("runs", "list")``."""
    runner = CliRunner()

    def invoke(*args: str | os.PathLike[str]) -> Result:
        return runner.invoke(app, [str(a) for a in args], prog_name="raystra")

    return invoke


@pytest.fixture
def run_cli(raystra_home: Path) -> RunCli:
    """Run ``python -m raystra.cli ARGS`` in a subprocess, from ``cwd`` (default: home)."""

    def run(*args: str | os.PathLike[str], cwd: Path | None = None) -> Completed:
        env = {**os.environ, "RAYSTRA_HOME": str(raystra_home), "COLUMNS": "200"}
        env.pop("RAYSTRA_DEBUG", None)
        done = subprocess.run(
            [sys.executable, "-m", "raystra.cli", *[str(a) for a in args]],
            cwd=cwd or raystra_home.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Completed(done.returncode, done.stdout, done.stderr)

    return run
