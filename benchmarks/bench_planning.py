"""How long validating definitions and planning take as graphs grow (no Ray, no database).

Builds a layered graph (L layers x W assets, each asset depending on two assets of the previous
layer), then times `Definitions(...)` (validation: duplicates, unknown deps, cycles, resources),
selection resolution of ``*`` and ``+<last asset>``, and `build_asset_plan`. Prints a table and
writes JSON to benchmarks/results/planning.json.

Run: python benchmarks/bench_planning.py [--sizes 1000 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from raystra import AssetSelection, Definitions, asset
from raystra.planning import build_asset_plan

WIDTH = 100


def layered_assets(steps: int) -> list[Any]:
    """``steps`` trivial assets in layers of WIDTH, each depending on two of the layer above."""
    assets = []
    for index in range(steps):
        layer, position = divmod(index, WIDTH)
        deps = []
        if layer > 0:
            above = (layer - 1) * WIDTH
            deps = [f"n{above + position}", f"n{above + (position + 1) % WIDTH}"]

        @asset(name=f"n{index}", deps=deps)
        def node() -> int:
            return 1

        assets.append(node)
    return assets


def measure(steps: int, repeat: int) -> dict[str, Any]:
    assets = layered_assets(steps)
    timings: dict[str, list[float]] = {"definitions": [], "select_upstream": [], "plan": []}
    for _ in range(repeat):
        started = time.perf_counter()
        defs = Definitions(assets)
        timings["definitions"].append(time.perf_counter() - started)

        started = time.perf_counter()
        keys = AssetSelection.from_string(f"+n{steps - 1}").resolve(defs.asset_graph)
        timings["select_upstream"].append(time.perf_counter() - started)

        started = time.perf_counter()
        plan = build_asset_plan(defs, defs.asset_graph.materializable_keys)
        timings["plan"].append(time.perf_counter() - started)
        assert len(plan.steps) == steps and keys
    return {
        "steps": steps,
        **{f"{name}_s_median": statistics.median(values) for name, values in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [measure(size, args.repeat) for size in args.sizes]
    print(f"{'steps':>8} {'Definitions':>12} {'select +x':>10} {'plan':>8}   (median seconds)")
    for row in rows:
        print(
            f"{row['steps']:>8} {row['definitions_s_median']:>12.3f} "
            f"{row['select_upstream_s_median']:>10.3f} {row['plan_s_median']:>8.3f}"
        )
    out = Path(__file__).parent / "results" / "planning.json"
    out.write_text(
        json.dumps(
            {"machine": platform.platform(), "python": platform.python_version(), "rows": rows},
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
