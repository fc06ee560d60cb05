"""raystra against Dagster and Prefect-on-Ray, with raw Ray tasks as the floor (issue 10).

Each system runs in its own venv under benchmarks/.venvs/ (made here, pinned in
benchmarks/peers/_envs.py) and in its own process per measurement: a worker script under
benchmarks/peers/ imports the system, warms it up, times one workload and prints one JSON line.
Systems alternate within every repeat, so machine noise hits all of them alike.

Workloads: graph100 / graph1000 (layered graph of trivial steps), backfill (365 days x 3 assets,
Parquet outputs), handoff (a 512 MB Arrow table between two steps), scale (raystra vs raw Ray
at 100, 1,000 and 10,000 steps and a 10,000-partition backfill).

Run: python benchmarks/run_peers.py [--quick] [--workloads ...] [--systems ...] [--repeat 3]
Writes benchmarks/results/peers.json, peers.md, peers_<workload>.png, scale_curve.png/json and
refreshes the README between <!-- peers:begin --> and <!-- peers:end -->.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

from _envs import ENVIRONMENTS, VENVS  # noqa: E402 (after the sys.path line above)
from _report import cell, chart, markdown, refresh_readme, scale_chart, summarise  # noqa: E402

RESULTS = HERE / "results"
# system -> (venv, worker script)
SYSTEMS = {
    "raw_ray": ("raystra", "worker_ray.py"),
    "raystra": ("raystra", "worker_ray.py"),
    "dagster_in_process": ("dagster", "worker_dagster.py"),
    "dagster_multiprocess": ("dagster", "worker_dagster.py"),
    "prefect_ray": ("prefect", "worker_prefect.py"),
    "prefect_threads": ("prefect", "worker_prefect.py"),
}
PEERS = tuple(SYSTEMS)
# workload -> (title, unit, [(worker workload, size, quick size, column)], systems, limit s)
WORKLOADS: dict[str, Any] = {
    "graph100": (
        "Layered graph, 100 trivial steps",
        "ms per step",
        [("graph", 100, 10, "100 steps")],
        PEERS,
        300,
    ),
    "graph1000": (
        "Layered graph, 1,000 trivial steps",
        "ms per step",
        [("graph", 1000, 100, "1,000 steps")],
        PEERS,
        600,
    ),
    "backfill": (
        "365-partition 3-asset daily backfill, Parquet outputs",
        "seconds",
        [("backfill", 365, 10, "whole backfill")],
        PEERS,
        600,
    ),
    "handoff": (
        "2-asset handoff of a 512 MB Arrow table",
        "seconds",
        [("handoff", 512, 64, "handoff")],
        PEERS,
        300,
    ),
    "scale": (
        "Scale curve: raystra vs raw Ray",
        "ms per step",
        [
            ("graph", 100, 10, "100 steps"),
            ("graph", 1000, 100, "1,000 steps"),
            ("graph", 10_000, 1000, "10,000 steps"),
            ("partitions", 10_000, 1000, "10,000 partitions"),
        ],
        ("raw_ray", "raystra"),
        900,
    ),
}
NOTES = {
    "backfill": "Dagster runs it as one run with `BackfillPolicy.single_run()` (each asset gets "
    "the whole range and writes one Parquet file per day through a Parquet IO manager); Prefect "
    "tasks write the same Parquet files themselves with result persistence off (stored outputs "
    "are the Parquet files; persisting results too would pickle each table a second time).",
    "handoff": "Seconds from the producer returning the table to the consumer holding it, "
    "stamped inside the two steps. Dagster in-process keeps it in memory (`mem_io_manager`); "
    "multiprocess pickles it through the filesystem IO manager, its only cross-process path.",
}


def offline_env() -> dict[str, str]:
    """The workers' environment: nothing phones home, tracing off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAYSTRA_"))}
    env |= {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        "DO_NOT_TRACK": "1",
    }
    return env


def run_one(system: str, workload: str, size: int, limit: float) -> dict[str, Any]:
    """One measurement in a fresh process: its RESULT line, or why there is none."""
    venv, script = SYSTEMS[system]
    with tempfile.TemporaryDirectory(prefix=f"peers-{system}-") as work_dir:
        command = [
            str(ENVIRONMENTS[venv].python),
            str(HERE / "peers" / script),
            "--system",
            system,
            "--workload",
            workload,
            "--size",
            str(size),
            "--work-dir",
            work_dir,
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=limit,
                env=offline_env(),
                cwd=HERE / "peers",
            )
        except subprocess.TimeoutExpired:
            return {"skipped": f"over the {limit:.0f} s limit"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line.removeprefix("RESULT ")))
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    sys.stderr.write(f"[{system} {workload} {size}] failed:\n" + "\n".join(tail) + "\n")
    return {"skipped": "failed: " + (tail[-1][:120] if tail else f"exit {done.returncode}")}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        pages = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": pages / 2**30,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def per_step(result: dict[str, Any], workload: str, size: int) -> float:
    """The figure a table shows: ms per step for graphs/partitions, seconds otherwise."""
    if workload == "handoff":
        return float(result["handoff_s"])
    if workload in ("graph", "partitions"):
        return 1000 * float(result["seconds"]) / size
    return float(result["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat (smoke run)")
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    command = " ".join(["python", "benchmarks/run_peers.py", *sys.argv[1:]])
    VENVS.mkdir(parents=True, exist_ok=True)
    for venv in {SYSTEMS[s][0] for s in args.systems}:
        ENVIRONMENTS[venv].ensure(VENVS / "install.log")
    versions: dict[str, str] = {}
    for venv, packages in (
        ("raystra", ("raystra", "ray", "pyarrow")),
        ("dagster", ("dagster",)),
        ("prefect", ("prefect", "prefect-ray")),
    ):
        if any(SYSTEMS[s][0] == venv for s in args.systems):
            versions |= ENVIRONMENTS[venv].versions(packages)
    load_before = os.getloadavg()
    started = time.perf_counter()
    workloads = []
    for name in args.workloads:
        title, unit, points, systems, limit = WORKLOADS[name]
        systems = [s for s in systems if s in args.systems]
        figures: dict[str, dict[str, list[float]]] = {s: {} for s in systems}
        skipped: dict[tuple[str, str], str] = {}
        extra: dict[str, dict[str, Any]] = {s: {} for s in systems}
        for attempt in range(repeat):
            order = systems[attempt % len(systems) :] + systems[: attempt % len(systems)]
            for workload, size, quick, label in points:
                column = label.replace(f"{size:,}", f"{quick:,}") if args.quick else label
                for system in order:
                    if (system, column) in skipped:
                        continue
                    result = run_one(system, workload, quick if args.quick else size, limit)
                    if "skipped" in result:
                        skipped[(system, column)] = result["skipped"]
                        print(f"{name} {column} {system}: SKIPPED, {result['skipped']}", flush=True)
                        continue
                    value = per_step(result, workload, quick if args.quick else size)
                    figures[system].setdefault(column, []).append(value)
                    extra[system][column] = {k: v for k, v in result.items() if k != "seconds"}
                    print(f"{name} {column} {system}: {value:.3f} {unit}", flush=True)
        stats: dict[str, dict[str, Any]] = {}
        for system in systems:
            for _, size, quick, label in points:
                column = label.replace(f"{size:,}", f"{quick:,}") if args.quick else label
                if (system, column) in skipped:
                    stats.setdefault(system, {})[column] = {"skipped": skipped[(system, column)]}
                elif column in figures[system]:
                    stats.setdefault(system, {})[column] = summarise(figures[system][column])
        columns = [p[3].replace(f"{p[1]:,}", f"{p[2]:,}") if args.quick else p[3] for p in points]
        rows = {s: [cell_for(stats, s, c, unit) for c in columns] for s in stats}
        workloads.append(
            {
                "name": name,
                "title": title,
                "unit": unit,
                "columns": columns,
                "time_limit_s": limit,
                "stats": stats,
                "extra": extra,
                "rows": rows,
                "note": NOTES.get(name, ""),
            }
        )
    load_after = os.getloadavg()
    results = {
        "command": command,
        "repeat": repeat,
        "quick": args.quick,
        "versions": versions,
        "machine": machine() | {"load_before": load_before, "load_after": load_after},
        # Only the load before counts: the load after is mostly this script's own work.
        "loaded": load_before[0] > 0.5 * (os.cpu_count() or 1),
        "wall_s": time.perf_counter() - started,
        "workloads": workloads,
    }
    suffix = "_quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"peers{suffix}.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (RESULTS / f"peers{suffix}.md").write_text(table)
    for workload in workloads:
        if workload["name"] == "scale":
            scale_outputs(workload, suffix)
            continue
        column = workload["columns"][0]
        bars = {s: c[column] for s, c in workload["stats"].items() if column in c}
        chart(
            RESULTS / f"peers_{workload['name']}{suffix}.png",
            workload["title"],
            workload["unit"],
            bars,
        )
    if not args.quick and not args.no_readme:
        readme = HERE.parent / "README.md"
        readme.write_text(refresh_readme(readme.read_text(), table))
    print(table)


def cell_for(stats: dict[str, Any], system: str, column: str, unit: str) -> str:
    return cell(stats[system].get(column), digits=2 if unit == "ms per step" else 3)


def scale_outputs(workload: dict[str, Any], suffix: str) -> None:
    points: dict[str, dict[int, float]] = {}
    partitions: dict[str, tuple[int, float]] = {}
    for system, columns in workload["stats"].items():
        for column, stats in columns.items():
            if "median" not in stats:
                continue
            count = int(column.split()[0].replace(",", ""))
            if "partitions" in column:
                partitions[system] = (count, stats["median"])
            else:
                points.setdefault(system, {})[count] = stats["median"]
    (RESULTS / f"scale_curve{suffix}.json").write_text(
        json.dumps(
            {
                "graph_ms_per_step": points,
                "partitions_ms_per_step": {
                    s: {"partitions": c, "median": v} for s, (c, v) in partitions.items()
                },
                "stats": workload["stats"],
            },
            indent=2,
        )
    )
    scale_chart(RESULTS / f"scale_curve{suffix}.png", points, partitions)


if __name__ == "__main__":
    main()
