"""The virtual environments run_peers.py runs each system in, with the versions it pins.

Each system gets its own venv under ``benchmarks/.venvs/`` (git-ignored), made once and reused
while its pinned requirements stay the same (a stamp file records them). Versions are pinned so
that a rerun measures the same software; raise them deliberately and say so in the results.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1]
REPO = BENCHMARKS.parent
VENVS = BENCHMARKS / ".venvs"

# Ray as in raystra's own environment, so raw Ray, raystra and Prefect-on-Ray share a Ray.
RAY = "ray[default]==2.60.0"
PYARROW = "pyarrow==26.0.1"
NUMPY = "numpy>=2,<3"


@dataclass(frozen=True)
class Environment:
    """One venv: its name and what pip installs into it."""

    name: str
    requirements: tuple[str, ...]

    @property
    def path(self) -> Path:
        return VENVS / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def ensure(self, log: Path) -> None:
        """Create the venv and install its requirements unless the stamp says it is current."""
        stamp = self.path / "raystra-bench.json"
        wanted = json.dumps(list(self.requirements))
        if stamp.exists() and stamp.read_text() == wanted and self.python.exists():
            return
        print(f"[setup] creating {self.path} with: {' '.join(self.requirements)}", flush=True)
        venv.create(self.path, with_pip=True, clear=True)
        with log.open("a") as out:
            subprocess.run(
                [str(self.python), "-m", "pip", "install", "-q", *self.requirements],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        stamp.write_text(wanted)

    def versions(self, packages: tuple[str, ...]) -> dict[str, str]:
        """Installed versions of ``packages`` in this venv."""
        code = (
            "import json, importlib.metadata as m, sys\n"
            "out = {}\n"
            "for name in sys.argv[1:]:\n"
            "    try: out[name] = m.version(name)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))"
        )
        done = subprocess.run(
            [str(self.python), "-c", code, *packages], capture_output=True, text=True, check=True
        )
        return dict(json.loads(done.stdout))


ENVIRONMENTS = {
    # raystra from this checkout (what the README's numbers describe), and raw Ray beside it.
    "raystra": Environment("raystra", (f"-e{REPO}", RAY, PYARROW, NUMPY)),
    "dagster": Environment("dagster", ("dagster==1.13.28", PYARROW, NUMPY)),
    "prefect": Environment(
        "prefect", ("prefect==3.9.1", "prefect-ray==0.6.0", RAY, PYARROW, NUMPY)
    ),
}

if __name__ == "__main__":
    # python benchmarks/peers/_envs.py [NAME...]: create (or check) the venvs.
    VENVS.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or list(ENVIRONMENTS):
        ENVIRONMENTS[name].ensure(VENVS / "install.log")
        print(name, ENVIRONMENTS[name].python)
