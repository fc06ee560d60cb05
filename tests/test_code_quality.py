"""The project's own gates, run with the tests so the README's one test command checks them.

ruff (lint and format), mypy --strict on ``raystra/``, and the import-linter layer contracts
from pyproject.toml.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which(args[0], path=str(Path(sys.executable).parent)) or shutil.which(
        args[0]
    )
    assert executable, (
        f"{args[0]} is not installed; install the test extras: pip install -e '.[test]'"
    )
    return subprocess.run(
        [executable, *args[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("mypy",),
        ("lint-imports",),
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict", "import-layers"],
)
def test_gate_passes(command: tuple[str, ...]) -> None:
    result = run_tool(*command)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
