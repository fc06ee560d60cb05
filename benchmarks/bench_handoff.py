"""Handing a large Arrow table from one step to the next, and what the driver holds meanwhile.

Three ways to move a table of SIZE MB from a producer to a consumer, on the same local Ray,
alternating: (1) raw Ray object-store handoff (producer task returns the table, consumer task
takes the ref); (2) raystra: two assets, the consumer reads the upstream value zero-copy while the
upstream's Parquet write runs beside it; (3) a Parquet round trip in raw Ray tasks (producer
writes, consumer reads). For raystra it reports when the consumer finished and when the run
finished (after the write committed), and the driver's peak RSS growth, for several sizes.

Run: python benchmarks/bench_handoff.py [--mb 512] [--repeat 3]
Writes benchmarks/results/handoff.json.
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
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray

import raystra
from raystra.events import RunStarted, StepSucceeded
from raystra.execution.ray import connect


def make_table(mb: int) -> pa.Table:
    rows = mb * 2**20 // 16  # two int64 columns
    column = np.arange(rows, dtype=np.int64)
    return pa.table({"a": column, "b": column + 1})  # distinct buffers: SIZE MB really moves


@ray.remote
def _produce(mb: int) -> pa.Table:
    return make_table(mb)


@ray.remote
def _consume(table: pa.Table) -> int:
    return int(table.num_rows)


@ray.remote
def _produce_parquet(mb: int, path: str) -> str:
    pq.write_table(make_table(mb), path)
    return path


@ray.remote
def _consume_parquet(path: str) -> int:
    return int(pq.read_table(path).num_rows)


def raw_handoff(mb: int) -> float:
    started = time.perf_counter()
    ray.get(_consume.remote(_produce.remote(mb)))
    return time.perf_counter() - started


def parquet_round_trip(mb: int, folder: str) -> float:
    started = time.perf_counter()
    ray.get(_consume_parquet.remote(_produce_parquet.remote(mb, f"{folder}/t.parquet")))
    return time.perf_counter() - started


def raystra_defs(mb: int) -> raystra.Definitions:
    @raystra.asset(name="producer")
    def producer() -> pa.Table:
        return make_table(mb)

    @raystra.asset(name="consumer")
    def consumer(producer: pa.Table) -> int:
        return int(producer.num_rows)

    return raystra.Definitions([producer, consumer])


def raystra_handoff(defs: raystra.Definitions) -> tuple[float, float]:
    """(seconds from the run's start until the consumer finished, whole materialize call)."""
    started = time.perf_counter()
    result = raystra.materialize(defs, executor="ray")
    total = time.perf_counter() - started
    run_started = next(e.timestamp for e in result.events if isinstance(e, RunStarted))
    consumer_done = next(
        e.timestamp
        for e in result.events
        if isinstance(e, StepSucceeded) and e.step_key == "consumer"
    )
    return consumer_done - run_started, total


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    raw, parquet, consumer, total = [], [], [], []
    for _ in range(args.repeat):
        raw.append(raw_handoff(args.mb))
        done, whole = raystra_handoff(defs)
        consumer.append(done)
        total.append(whole)
        parquet.append(parquet_round_trip(args.mb, folder))
    row = {
        "table_mb": args.mb,
        "runs": {
            "raw_ray_s": raw,
            "raystra_consumer_s": consumer,
            "raystra_total_s": total,
            "parquet_s": parquet,
        },
        "raw_ray_s": statistics.median(raw),
        "raystra_consumer_done_s": statistics.median(consumer),
        "raystra_run_done_s": statistics.median(total),
        "parquet_round_trip_s": statistics.median(parquet),
    }
    row["raystra_vs_raw_ray"] = row["raystra_consumer_done_s"] / row["raw_ray_s"]
    print(f"{args.mb} MB table, medians of {args.repeat}:")
    print(f"  raw Ray object-store handoff      {row['raw_ray_s']:.2f} s")
    print(
        f"  raystra, consumer finished        {row['raystra_consumer_done_s']:.2f} s "
        f"({row['raystra_vs_raw_ray']:.2f}x raw Ray; from the run's start)"
    )
    print(f"  raystra, run finished (written)   {row['raystra_run_done_s']:.2f} s")
    print(f"  Parquet round trip (raw Ray)      {row['parquet_round_trip_s']:.2f} s")
    print("every repeat (page faults on fresh shared memory make the first runs slower):")
    for name, values in row["runs"].items():
        print(f"  {name:20s} " + ", ".join(f"{v:.2f}" for v in values))
    print("driver peak RSS growth while handing off:")
    for entry in memory:
        print(f"  {entry['table_mb']:>5} MB table: {entry['driver_peak_rss_growth_mb']:.0f} MB")
    out = Path(__file__).parent / "results" / "handoff.json"
    out.write_text(
        json.dumps(
            {"machine": platform.platform(), "cpus": os.cpu_count(), "row": row, "memory": memory},
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
