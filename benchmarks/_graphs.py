"""Graph shapes shared by the benchmarks: layered DAGs as raystra assets and as raw Ray tasks."""

from __future__ import annotations

import gc
import time
from typing import Any

from raystra import AssetIn, AssetsDefinition, asset


def layered_deps(layers: int, width: int) -> list[list[int]]:
    """For each node (layer-major order), the indices of its two parents in the layer above."""
    deps: list[list[int]] = []
    for layer in range(layers):
        for position in range(width):
            if layer == 0:
                deps.append([])
            else:
                above = (layer - 1) * width
                deps.append(sorted({above + position, above + (position + 1) % width}))
    return deps


def _root() -> None:
    return None


def _node(a: None, b: None) -> None:
    return None


def layered_assets(layers: int, width: int) -> list[AssetsDefinition]:
    """Trivial assets: each takes its two parents' values (``a`` and ``b``) and returns None.

    The compute functions are module-level, as in a real project, so shipping the definitions
    to workers pickles them by reference.
    """
    assets: list[AssetsDefinition] = []
    for index, parents in enumerate(layered_deps(layers, width)):
        if not parents:
            assets.append(asset(name=f"n{index}")(_root))
            continue
        ins = {"a": AssetIn(f"n{parents[0]}"), "b": AssetIn(f"n{parents[1]}")}
        assets.append(asset(name=f"n{index}", ins=ins)(_node))
    return assets


def run_raw_ray(layers: int, width: int) -> float:
    """Seconds to run the same graph as plain Ray tasks (values passed as ObjectRefs)."""
    import ray

    @ray.remote
    def node(*parents: None) -> None:
        return None

    deps = layered_deps(layers, width)
    started = time.perf_counter()
    refs: list[Any] = []
    for parents in deps:
        refs.append(node.remote(*[refs[p] for p in parents]))
    ray.get(refs)
    return time.perf_counter() - started


def settle(seconds: float = 0.5) -> None:
    """Let the previous run's tail work finish before the next is timed.

    Ray frees a finished run's objects and idles its workers asynchronously; without a pause
    that work is billed to whichever system runs next.
    """
    gc.collect()
    time.sleep(seconds)
