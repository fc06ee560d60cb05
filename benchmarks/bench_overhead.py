"""Orchestration overhead: raystra's Ray executor vs the same graph as raw Ray tasks.

The graph has L layers of W trivial assets, each depending on two assets of the layer above
(values passed, all None). Both sides run on the same local Ray in one process, alternating,
with raystra's event storage (SQLite) on. A second raystra column persists every output through
the default IO manager (a pickle file per step), to show what storage adds.

Run: python benchmarks/bench_overhead.py [--sizes 100 1000 5000] [--repeat 3]
Writes benchmarks/results/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _graphs import layered_assets, run_raw_ray, settle

import raystra
from raystra.execution.ray import connect

SHAPES = {100: (5, 20), 1000: (10, 100), 5000: (50, 100), 10_000: (100, 100)}


def _persisting(assets: list[Any]) -> list[Any]:
    """The same graph with each asset returning 1, so every output is stored."""
    rebuilt = []
    for definition in assets:
        parents = [i.asset_key for i in definition.inputs]
        ins = {name: raystra.AssetIn(key) for name, key in zip(("a", "b"), parents, strict=False)}
        rebuilt.append(raystra.asset(name=definition.name, ins=ins or None)(_one_or_two(len(ins))))
    return rebuilt


def _one() -> int:
    return 1


def _two(a: int, b: int) -> int:
    return 1


def _one_or_two(count: int) -> Any:
    return _one if count == 0 else _two


def measure(steps: int, repeat: int, with_persistence: bool) -> dict[str, Any]:
    layers, width = SHAPES[steps]
    defs = raystra.Definitions(layered_assets(layers, width))
    stored = raystra.Definitions(_persisting(list(defs.assets))) if with_persistence else None
    raw, ours, ours_stored = [], [], []
    for _ in range(repeat):
        settle()
        raw.append(run_raw_ray(layers, width))
        settle()
        started = time.perf_counter()
        raystra.materialize(defs, executor="ray")
        ours.append(time.perf_counter() - started)
        if stored is not None:
            settle()
            started = time.perf_counter()
            raystra.materialize(stored, executor="ray")
            ours_stored.append(time.perf_counter() - started)
    row: dict[str, Any] = {
        "steps": steps,
        "shape": f"{layers}x{width}",
        "raw_ray_ms_per_step": 1000 * statistics.median(raw) / steps,
        "raystra_ms_per_step": 1000 * statistics.median(ours) / steps,
        "raw_runs_s": raw,
        "raystra_runs_s": ours,
    }
    row["ratio"] = row["raystra_ms_per_step"] / row["raw_ray_ms_per_step"]
    if ours_stored:
        row["raystra_persisted_ms_per_step"] = 1000 * statistics.median(ours_stored) / steps
        row["raystra_persisted_runs_s"] = ours_stored
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-persistence", action="store_true", help="skip the stored column")
    args = parser.parse_args()
    os.environ.setdefault("RAYSTRA_HOME", tempfile.mkdtemp(prefix="raystra-bench-"))
    connect()
    run_raw_ray(5, 20)  # warm the workers before anything is timed
    raystra.materialize(raystra.Definitions(layered_assets(5, 20)), executor="ray")
    rows = [measure(size, args.repeat, not args.no_persistence) for size in args.sizes]
    header = ("steps", "raw Ray", "raystra", "ratio", "raystra+stored")
    print("{:>6} {:>9} {:>9} {:>6} {:>15}  (ms per step, medians)".format(*header))
    for row in rows:
        stored = row.get("raystra_persisted_ms_per_step")
        print(
            "{:>6} {:>9.2f} {:>9.2f} {:>6.2f} {:>15}".format(
                row["steps"],
                row["raw_ray_ms_per_step"],
                row["raystra_ms_per_step"],
                row["ratio"],
                "-" if stored is None else f"{stored:.2f}",
            )
        )
    out = Path(__file__).parent / "results" / "overhead.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "repeat": args.repeat,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
