"""Orchestration overhead: raystra's Ray executor vs the same graph as raw Ray tasks.

The graph has L layers of W trivial assets, each depending on two assets of the layer above
(values passed, all None). Both sides run on the same local Ray in one process, alternating,
with raystra's event storage (SQLite) on. A second raystra column persists every output through
the default IO manager (a pickle file per step), to show what storage adds. A third traces the
run with OpenTelemetry, exporting every span over OTLP/HTTP to a receiver in another process on
this machine (it reads each request and answers 200, as a collector's receiver would, so its CPU
counts against us too). The endpoint turns metrics on as well, as it does for users; a fourth
column ("spans") traces with metrics off (``OTEL_METRICS_EXPORTER=none``), so the cost of
traces alone shows beside that of traces and metrics together.

Beside wall time, each run's CPU time is summed over the driver and every process it started
(Ray's workers, raylet and GCS, the receiver), through its tail work (`_cpu`, needs psutil):
on a small, shared machine that ratio moves far less between invocations than the wall one.

Run: python benchmarks/bench_overhead.py [--sizes 100 1000 5000] [--repeat 3] [--no-tracing]
Writes benchmarks/results/overhead.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _cpu import CpuMeter
from _graphs import layered_assets, run_raw_ray, settle

import raystra
from raystra.execution.ray import connect
from raystra.observability import shutdown_meter_providers

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


_RECEIVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@contextlib.contextmanager
def otlp_receiver() -> Iterator[str]:
    """An OTLP/HTTP endpoint in a separate process that accepts and drops every export."""
    process = subprocess.Popen([sys.executable, "-c", _RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}"
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def tracing_to(endpoint: str | None, *, metrics: bool = True) -> Iterator[None]:
    """Turn raystra's tracing on (OTLP/HTTP to ``endpoint``) for the runs inside.

    An OTLP endpoint turns metrics on too, as it does for users; ``metrics=False`` turns them
    off with the standard ``OTEL_METRICS_EXPORTER=none``, to show what traces alone cost.
    """
    if endpoint is None:
        yield
        return
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    if not metrics:
        os.environ["OTEL_METRICS_EXPORTER"] = "none"
    try:
        yield
    finally:
        del os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
        os.environ.pop("OTEL_METRICS_EXPORTER", None)


_METER = CpuMeter()
# CPU is counted this long past a run's end too: Ray frees objects and exporters send their
# last batch after the call returns, and that work is part of what a run costs.
_CPU_TAIL_S = 0.3


def _timed_run(
    defs: raystra.Definitions,
    endpoint: str | None = None,
    cpu: list[float] | None = None,
    *,
    metrics: bool = True,
) -> float:
    """Wall seconds of one run; its CPU seconds are appended to ``cpu`` when given."""
    settle()
    with tracing_to(endpoint, metrics=metrics), _METER.measure() as used:
        started = time.perf_counter()
        raystra.materialize(defs, executor="ray")
        elapsed = time.perf_counter() - started
        time.sleep(_CPU_TAIL_S)
    if cpu is not None:
        cpu.append(used.seconds)
    return elapsed


def _timed_raw(layers: int, width: int, cpu: list[float]) -> float:
    settle()
    with _METER.measure() as used:
        elapsed = run_raw_ray(layers, width)
        time.sleep(_CPU_TAIL_S)
    cpu.append(used.seconds)
    return elapsed


def measure(
    steps: int, repeat: int, with_persistence: bool, tracing_endpoint: str | None
) -> dict[str, Any]:
    layers, width = SHAPES[steps]
    defs = raystra.Definitions(layered_assets(layers, width))
    stored = raystra.Definitions(_persisting(list(defs.assets))) if with_persistence else None
    raw, ours, ours_stored, ours_traced = [], [], [], []
    raw_cpu: list[float] = []
    ours_cpu: list[float] = []
    traced_cpu: list[float] = []
    spans_only: list[float] = []
    spans_only_cpu: list[float] = []
    for _ in range(repeat):
        raw.append(_timed_raw(layers, width, raw_cpu))
        ours.append(_timed_run(defs, cpu=ours_cpu))
        if tracing_endpoint is not None:
            ours_traced.append(_timed_run(defs, tracing_endpoint, traced_cpu))
            spans_only.append(_timed_run(defs, tracing_endpoint, spans_only_cpu, metrics=False))
        if stored is not None:
            ours_stored.append(_timed_run(stored))
    row: dict[str, Any] = {
        "steps": steps,
        "shape": f"{layers}x{width}",
        "raw_ray_ms_per_step": 1000 * statistics.median(raw) / steps,
        "raystra_ms_per_step": 1000 * statistics.median(ours) / steps,
        "raw_runs_s": raw,
        "raystra_runs_s": ours,
    }
    row["ratio"] = row["raystra_ms_per_step"] / row["raw_ray_ms_per_step"]
    if _METER.available:
        # Totals over every repeat, not medians: each process's CPU time ticks in 10 ms steps.
        row["raw_ray_cpu_ms_per_step"] = 1000 * sum(raw_cpu) / (repeat * steps)
        row["raystra_cpu_ms_per_step"] = 1000 * sum(ours_cpu) / (repeat * steps)
        row["cpu_ratio"] = sum(ours_cpu) / sum(raw_cpu)
    if ours_stored:
        row["raystra_persisted_ms_per_step"] = 1000 * statistics.median(ours_stored) / steps
        row["raystra_persisted_runs_s"] = ours_stored
    if ours_traced:
        row["raystra_traced_ms_per_step"] = 1000 * statistics.median(ours_traced) / steps
        row["raystra_traced_runs_s"] = ours_traced
        row["tracing_overhead"] = row["raystra_traced_ms_per_step"] / row["raystra_ms_per_step"]
        row["raystra_traces_only_ms_per_step"] = 1000 * statistics.median(spans_only) / steps
        row["raystra_traces_only_runs_s"] = spans_only
        row["traces_only_overhead"] = (
            row["raystra_traces_only_ms_per_step"] / row["raystra_ms_per_step"]
        )
        if _METER.available:
            row["raystra_traced_cpu_ms_per_step"] = 1000 * sum(traced_cpu) / (repeat * steps)
            row["tracing_cpu_overhead"] = sum(traced_cpu) / sum(ours_cpu)
            row["traces_only_cpu_overhead"] = sum(spans_only_cpu) / sum(ours_cpu)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-persistence", action="store_true", help="skip the stored column")
    parser.add_argument("--no-tracing", action="store_true", help="skip the traced column")
    args = parser.parse_args()
    os.environ.setdefault("RAYSTRA_HOME", tempfile.mkdtemp(prefix="raystra-bench-"))
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        del os.environ[name]  # tracing only where this benchmark turns it on
    connect()
    with contextlib.ExitStack() as stack:
        endpoint = None if args.no_tracing else stack.enter_context(otlp_receiver())
        run_raw_ray(5, 20)  # warm the workers before anything is timed
        warm = raystra.Definitions(layered_assets(5, 20))
        raystra.materialize(warm, executor="ray")
        if endpoint is not None:
            _timed_run(warm, endpoint)  # imports the SDK and connects before timing
        rows = [
            measure(size, args.repeat, not args.no_persistence, endpoint) for size in args.sizes
        ]
        # The last metrics export goes out while the receiver still listens (at exit it would
        # find it gone and retry, printing connection errors).
        shutdown_meter_providers()
    _print_table(rows, _WALL_COLUMNS, "wall ms per step, medians")
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
    if _METER.available:
        _print_table(rows, _CPU_COLUMNS, "CPU ms per step of the whole local cluster, all repeats")
    else:
        print("(install psutil for the CPU columns)")
    print(f"wrote {out}")


# (heading, row key) per printed column; a key missing from a row prints as "-".
_WALL_COLUMNS = (
    ("raw Ray", "raw_ray_ms_per_step"),
    ("raystra", "raystra_ms_per_step"),
    ("ratio", "ratio"),
    ("+stored", "raystra_persisted_ms_per_step"),
    ("+traced", "raystra_traced_ms_per_step"),
    ("/untraced", "tracing_overhead"),
    ("spans", "traces_only_overhead"),
)
_CPU_COLUMNS = (
    ("raw Ray", "raw_ray_cpu_ms_per_step"),
    ("raystra", "raystra_cpu_ms_per_step"),
    ("ratio", "cpu_ratio"),
    ("+traced", "raystra_traced_cpu_ms_per_step"),
    ("/untraced", "tracing_cpu_overhead"),
    ("spans", "traces_only_cpu_overhead"),
)


def _print_table(
    rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...], what: str
) -> None:
    widths = [max(len(heading), 6) + 2 for heading, _ in columns]
    headings = [f"{heading:>{width}}" for (heading, _), width in zip(columns, widths, strict=True)]
    print(f"{'steps':>6} " + " ".join(headings) + f"  ({what})")
    for row in rows:
        cells = [
            f"{'-' if row.get(key) is None else format(row[key], '.2f'):>{width}}"
            for (_, key), width in zip(columns, widths, strict=True)
        ]
        print(f"{row['steps']:>6} " + " ".join(cells))


if __name__ == "__main__":
    main()
