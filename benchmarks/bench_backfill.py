"""Backfill throughput: raystra's backfill vs the same partitioned work as raw Ray tasks.

Case "daily": a 3-asset chain (generate 10k rows -> filter -> group-by) over 365 daily
partitions, every output stored as Parquet. raystra uses its default IO manager (atomic write,
row count/schema/size metadata) and records the run, its events and the backfill in SQLite; raw
Ray runs the same functions as tasks chained by ObjectRefs, each writing the same hive-style
Parquet file the same way (temp file, then os.replace), with no run storage. Case "hourly":
10,000 hourly partitions of one asset returning None (nothing stored) vs 10,000 no-op tasks,
plus planning alone. One local Ray, one process, alternating; fresh storage for every run.

Run: python benchmarks/bench_backfill.py [--repeat 3] [--profile]
Writes benchmarks/results/backfill.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray

import raystra
from raystra import DailyPartitionsDefinition, HourlyPartitionsDefinition, asset
from raystra.api._backfill import plan_assets
from raystra.api._launch import resolve_selection
from raystra.api._storage import reading_storage
from raystra.execution.ray import connect

sys.path.insert(0, str(Path(__file__).parent))
from _graphs import settle

DAILY = DailyPartitionsDefinition(start_date="2023-01-01", end_date="2024-01-01")
HOURLY = HourlyPartitionsDefinition(start_date="2023-01-01-00:00", end_date="2024-02-21-16:00")
ROWS = 10_000


def make_rows(day: str) -> pa.Table:
    rng = np.random.default_rng(date.fromisoformat(day).toordinal())
    return pa.table(
        {
            "user": rng.integers(0, 500, ROWS),
            "amount": rng.random(ROWS) * 100.0,
            "kind": rng.integers(0, 4, ROWS),
        }
    )


def keep_large(table: pa.Table) -> pa.Table:
    return table.filter(pc.greater(table["amount"], 50.0))


def per_user(table: pa.Table) -> pa.Table:
    return table.group_by("user").aggregate([("amount", "sum"), ("amount", "count")])


@asset(partitions_def=DAILY)
def generated(context: raystra.AssetExecutionContext) -> pa.Table:
    return make_rows(context.partition_key)


@asset(partitions_def=DAILY)
def filtered(generated: pa.Table) -> pa.Table:
    return keep_large(generated)


@asset(partitions_def=DAILY)
def grouped(filtered: pa.Table) -> pa.Table:
    return per_user(filtered)


@asset(partitions_def=HOURLY)
def tick() -> None:
    return None


def write_hive(table: pa.Table, folder: str, name: str, key: str) -> None:
    """What raystra's IO manager does for a table, minus metadata: temp sibling, then rename."""
    parent = os.path.join(folder, name, f"partition={key}")
    os.makedirs(parent, exist_ok=True)
    temp = os.path.join(parent, f"_data.parquet.tmp-{uuid.uuid4().hex}")
    pq.write_table(table, temp)
    os.replace(temp, os.path.join(parent, "data.parquet"))


@ray.remote
def raw_generate(day: str, folder: str) -> pa.Table:
    table = make_rows(day)
    write_hive(table, folder, "generated", day)
    return table


@ray.remote
def raw_filter(table: pa.Table, day: str, folder: str) -> pa.Table:
    out = keep_large(table)
    write_hive(out, folder, "filtered", day)
    return out


@ray.remote
def raw_group(table: pa.Table, day: str, folder: str) -> pa.Table:
    out = per_user(table)
    write_hive(out, folder, "grouped", day)
    return out


@ray.remote
def raw_noop(key: str) -> None:
    return None


def parquet_files(folder: str) -> int:
    return sum(1 for _ in Path(folder).rglob("data.parquet"))


def run_raw(case: str, keys: list[str]) -> tuple[float, int]:
    """Seconds for all tasks (submitted up front), and the Parquet files they wrote."""
    folder = tempfile.mkdtemp(prefix="raw-backfill-")
    started = time.perf_counter()
    if case == "daily":
        refs = [
            raw_group.remote(
                raw_filter.remote(raw_generate.remote(d, folder), d, folder), d, folder
            )
            for d in keys
        ]
    else:
        refs = [raw_noop.remote(k) for k in keys]
    ray.get(refs)
    elapsed = time.perf_counter() - started
    files = parquet_files(folder)
    shutil.rmtree(folder)
    return elapsed, files


def run_raystra(defs: raystra.Definitions, keys: list[str] | None) -> tuple[float, int]:
    """Seconds for one backfill (all partitions, or ``keys``) in a fresh $RAYSTRA_HOME."""
    home = tempfile.mkdtemp(prefix="raystra-backfill-")
    os.environ["RAYSTRA_HOME"] = home
    request = raystra.PartitionRequest(keys=tuple(keys) if keys else (), all=keys is None)
    started = time.perf_counter()
    result = raystra.backfill(defs, "*", partitions=request, executor="ray")
    elapsed = time.perf_counter() - started
    if not result.success:
        for failed in result.run.failed_steps[:3]:
            print(f"FAILED {failed.step_key}: {failed.error}", file=sys.stderr)
        raise SystemExit(f"raystra backfill ended {result.record.status} (home {home})")
    files = parquet_files(home)
    shutil.rmtree(home)
    return elapsed, files


def plan_seconds(defs: raystra.Definitions, repeat: int) -> list[float]:
    """Planning alone (target resolution + plan), as `raystra.backfill` does it."""
    home = os.environ["RAYSTRA_HOME"] = tempfile.mkdtemp(prefix="raystra-plan-")
    keys = resolve_selection(defs, "*")
    times = []
    with reading_storage(None) as store:
        for _ in range(repeat):
            started = time.perf_counter()
            plan = plan_assets(defs, keys, raystra.PartitionRequest(all=True), store)
            times.append(time.perf_counter() - started)
    shutil.rmtree(home)
    print(f"  planned {len(plan.steps)} steps")
    return times


def summary(runs: list[float], steps: int) -> dict[str, Any]:
    ms = [1000 * r / steps for r in runs]
    return {"median": statistics.median(ms), "min": min(ms), "max": max(ms), "runs_s": runs}


def measure(case: str, defs: raystra.Definitions, keys: list[str], repeat: int) -> dict[str, Any]:
    steps = len(keys) * len(defs.assets)
    raw, ours, files = [], [], {}
    for _ in range(repeat):
        settle()
        elapsed, files["raw"] = run_raw(case, keys)
        raw.append(elapsed)
        settle()
        elapsed, files["raystra"] = run_raystra(defs, None)
        ours.append(elapsed)
        print(f"  {case}: raw {raw[-1]:.2f} s, raystra {ours[-1]:.2f} s", flush=True)
    row = {
        "case": case,
        "partitions": len(keys),
        "steps": steps,
        "parquet_files": files,
        "raw_ray_ms_per_step": summary(raw, steps),
        "raystra_ms_per_step": summary(ours, steps),
        "plan_ms": summary(plan_seconds(defs, repeat), 1),
    }
    row["ratio"] = row["raystra_ms_per_step"]["median"] / row["raw_ray_ms_per_step"]["median"]
    row["ratio_per_repeat"] = [o / r for o, r in zip(ours, raw, strict=True)]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one daily backfill")
    args = parser.parse_args()
    command = " ".join([Path(sys.executable).name, *sys.argv])
    print(f"$ {command}")
    connect()
    chain = raystra.Definitions([generated, filtered, grouped])
    hourly = raystra.Definitions([tick])
    days, hours = DAILY.get_partition_keys(), HOURLY.get_partition_keys()
    assert (len(days), len(hours)) == (365, 10_000), (len(days), len(hours))
    if args.profile:
        run_raystra(chain, days[:30])  # warm, then profile the driver through one daily backfill
        profiler = cProfile.Profile()
        profiler.runcall(run_raystra, chain, None)
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(r"raystra|ray/_private|ray/_raylet|sqlite|fsspec", 30)
        return
    cases = (("daily", chain, days), ("hourly", hourly, hours))
    for case, defs, keys in cases:
        run_raw(case, keys[:60])  # warm workers, imports and caches on both sides
        run_raystra(defs, keys[:60])
    load_before = os.getloadavg()
    rows = [measure(case, defs, keys, args.repeat) for case, defs, keys in cases]
    load_after = os.getloadavg()
    print(f"\nms per step: median [min-max] of {args.repeat}; plan = planning alone, ms total")
    print(f"{'case':>7} {'steps':>6} {'raw Ray':>21} {'raystra':>21} {'ratio':>6} {'plan ms':>8}")
    for row in rows:
        raw, ours = (row[k] for k in ("raw_ray_ms_per_step", "raystra_ms_per_step"))
        cells = [f"{c['median']:.2f} [{c['min']:.2f}-{c['max']:.2f}]" for c in (raw, ours)]
        print(f"{row['case']:>7} {row['steps']:>6} {cells[0]:>21} {cells[1]:>21} ", end="")
        print(f"{row['ratio']:>6.2f} {row['plan_ms']['median']:>8.0f}")
        ratios = ", ".join(f"{r:.2f}" for r in row["ratio_per_repeat"])
        print(f"{'':>15}per-repeat ratios: {ratios}; Parquet files {row['parquet_files']}")
    print(f"target: daily raystra/raw <= 1.3 -> {'met' if rows[0]['ratio'] <= 1.3 else 'NOT met'}")
    out = Path(__file__).parent / "results" / "backfill.json"
    machine = {"machine": platform.platform(), "cpus": os.cpu_count()}
    machine |= {"python": platform.python_version(), "ray": ray.__version__}
    machine |= {"pyarrow": pa.__version__, "load_avg": [load_before, load_after]}
    out.write_text(
        json.dumps({**machine, "command": command, "repeat": args.repeat, "rows": rows}, indent=2)
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
