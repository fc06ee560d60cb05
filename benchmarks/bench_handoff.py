"""Handing a large Arrow table from one step to the next, and what the driver holds meanwhile.

Three ways to move a table of SIZE MB from a producer to a consumer, on the same local Ray,
in rotating order: (1) raw Ray object-store handoff (producer task returns the table, consumer task
takes the ref); (2) raystra: two assets, the consumer reads the upstream value zero-copy while the
upstream's Parquet write runs beside it; (3) a Parquet round trip in raw Ray tasks (producer
writes, consumer reads).

The headline figure is the *handoff*: from the moment the producer's function returns the table
to the moment the consumer's function holds it, stamped by the two functions themselves (same
clock, same machine). Building a fresh 1 GB table in a worker costs 0.7-2 s of page faults that
vary run to run and would drown the handoff, so it is reported apart, as is the end-to-end time
until the consumer finished and, for raystra, until the run finished with the write committed.
The driver's peak RSS growth is measured for several sizes: it only ever sees small reports.

Run: python benchmarks/bench_handoff.py [--mb 512] [--repeat 3]
Writes benchmarks/results/handoff_<SIZE>mb.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray

import raystra
from raystra.execution.ray import connect

# (handoff seconds, seconds from submission until the consumer finished)
Timing = tuple[float, float]


def make_table(mb: int) -> pa.Table:
    rows = mb * 2**20 // 16  # two int64 columns
    column = np.arange(rows, dtype=np.int64)
    return pa.table({"a": column, "b": column + 1})  # distinct buffers: SIZE MB really moves


def stamped(table: pa.Table) -> pa.Table:
    """``table`` carrying the time its producer handed it over (metadata only, no copy)."""
    return table.replace_schema_metadata({"handed_over_at": repr(time.time())})


def received(table: pa.Table) -> dict[str, float]:
    """What the consumer reports: when the table was handed over and when it arrived."""
    arrived = time.time()
    return {"handed_over_at": float(table.schema.metadata[b"handed_over_at"]), "at": arrived}


@ray.remote
def _produce(mb: int) -> pa.Table:
    return stamped(make_table(mb))


@ray.remote
def _consume(table: pa.Table) -> dict[str, float]:
    return received(table)


@ray.remote
def _produce_parquet(mb: int, path: str) -> tuple[str, float]:
    table = make_table(mb)
    handed_over_at = time.time()
    pq.write_table(table, path)
    return path, handed_over_at


@ray.remote
def _consume_parquet(written: tuple[str, float]) -> dict[str, float]:
    path, handed_over_at = written
    pq.read_table(path)
    return {"handed_over_at": handed_over_at, "at": time.time()}


def _timing(started: float, stamps: dict[str, float]) -> Timing:
    return stamps["at"] - stamps["handed_over_at"], stamps["at"] - started


def raw_handoff(mb: int) -> Timing:
    started = time.time()
    return _timing(started, ray.get(_consume.remote(_produce.remote(mb))))


def parquet_round_trip(mb: int, folder: str) -> Timing:
    started = time.time()
    written = _produce_parquet.remote(mb, f"{folder}/t.parquet")
    return _timing(started, ray.get(_consume_parquet.remote(written)))


def raystra_defs(mb: int) -> raystra.Definitions:
    @raystra.asset(name="producer")
    def producer() -> pa.Table:
        return stamped(make_table(mb))

    @raystra.asset(name="consumer")
    def consumer(producer: pa.Table) -> dict[str, float]:
        return received(producer)

    return raystra.Definitions([producer, consumer])


def raystra_handoff(defs: raystra.Definitions) -> tuple[Timing, float]:
    """(handoff and consumer-finished timing, seconds until the whole run finished)."""
    started = time.time()
    raystra.materialize(defs, executor="ray")
    total = time.time() - started
    return _timing(started, raystra.load_asset_value(defs, "consumer")), total


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _medians(name: str, timings: list[Timing]) -> dict[str, Any]:
    return {
        f"{name}_handoff_s": statistics.median(t[0] for t in timings),
        f"{name}_consumer_done_s": statistics.median(t[1] for t in timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[64, 256, 512])
    args = parser.parse_args()
    os.environ.setdefault("RAYSTRA_HOME", tempfile.mkdtemp(prefix="raystra-bench-"))
    folder = tempfile.mkdtemp(prefix="raystra-handoff-")
    connect()

    raystra_handoff(raystra_defs(1))  # imports and first-run caches, before measuring memory
    memory: list[dict[str, Any]] = []
    for mb in args.memory_sizes:  # smallest first: peak RSS only grows
        before = peak_rss_mb()
        raystra_handoff(raystra_defs(mb))
        memory.append({"table_mb": mb, "driver_peak_rss_growth_mb": peak_rss_mb() - before})

    defs = raystra_defs(args.mb)
    timings: dict[str, list[Timing]] = {"raw_ray": [], "raystra": [], "parquet": []}
    run_done: list[float] = []

    def run_raystra() -> Timing:
        timing, total = raystra_handoff(defs)
        run_done.append(total)
        return timing

    systems: list[tuple[str, Callable[[], Timing]]] = [
        ("raw_ray", lambda: raw_handoff(args.mb)),
        ("raystra", run_raystra),
        ("parquet", lambda: parquet_round_trip(args.mb, folder)),
    ]
    for repeat in range(args.repeat):
        # Rotate the order: whichever system runs right after the Parquet round trip pays
        # fresh page faults building its table, so each takes every position in turn.
        shift = repeat % len(systems)
        for name, run in systems[shift:] + systems[:shift]:
            timings[name].append(run())
    raw, ours, parquet = timings["raw_ray"], timings["raystra"], timings["parquet"]
    row: dict[str, Any] = {
        "table_mb": args.mb,
        "runs": {"raw_ray": raw, "raystra": ours, "parquet": parquet, "raystra_run_s": run_done},
        **_medians("raw_ray", raw),
        **_medians("raystra", ours),
        **_medians("parquet", parquet),
        "raystra_run_done_s": statistics.median(run_done),
    }
    row["raystra_vs_raw_ray"] = row["raystra_handoff_s"] / row["raw_ray_handoff_s"]
    print(f"{args.mb} MB table, medians of {args.repeat} (seconds):")
    print("                                   handoff   consumer finished")
    labels = {
        "raw_ray": "raw Ray object store",
        "raystra": "raystra",
        "parquet": "Parquet round trip (raw Ray)",
    }
    for name, label in labels.items():
        handoff, done = row[f"{name}_handoff_s"], row[f"{name}_consumer_done_s"]
        print(f"  {label:30s} {handoff:8.3f}   {done:8.2f}")
    print(f"  raystra handoff / raw Ray handoff: {row['raystra_vs_raw_ray']:.2f}")
    print(f"  raystra run finished, Parquet write committed: {row['raystra_run_done_s']:.2f}")
    print("every repeat (handoff, consumer finished):")
    for name in ("raw_ray", "raystra", "parquet"):
        cells = ", ".join(f"({h:.3f}, {d:.2f})" for h, d in row["runs"][name])
        print(f"  {name:8s} {cells}")
    print("driver peak RSS growth while handing off:")
    for entry in memory:
        print(f"  {entry['table_mb']:>5} MB table: {entry['driver_peak_rss_growth_mb']:.0f} MB")
    out = Path(__file__).parent / "results" / f"handoff_{args.mb}mb.json"
    out.write_text(
        json.dumps(
            {"machine": platform.platform(), "cpus": os.cpu_count(), "row": row, "memory": memory},
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
