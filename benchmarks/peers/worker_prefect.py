"""Worker: Prefect 3, with prefect-ray's RayTaskRunner and with its ThreadPoolTaskRunner.

Set up as Prefect's docs show: one flow per workload whose tasks are ``.submit()``-ted with
upstream futures as arguments, so the task runner resolves dependencies and runs independent
tasks concurrently. Prefect runs with its ephemeral local API server under a fresh
PREFECT_HOME (every flow and task run is recorded there, as raystra records its runs), with
analytics off so nothing leaves the machine.

- graph: the layered graph; each task returns None.
- backfill: 3 tasks per day for 365 days; each writes its Parquet file itself (the same files
  the other systems write) and returns its table to the next task. Prefect's own result
  persistence is off: it would pickle every table a second time, beside the Parquet files.
- handoff: producer task returns the table, consumer task receives it (in memory on threads;
  through Ray's object store on RayTaskRunner).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import _work as work
from _protocol import parse_args, report

SYSTEMS = ("prefect_ray", "prefect_threads")


def _configure(work_dir: str) -> None:
    # Before Prefect is imported: its settings are read from the environment at import.
    os.environ["PREFECT_HOME"] = os.path.join(work_dir, "prefect_home")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_RESULTS_PERSIST_BY_DEFAULT"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def build(system: str, workload: str, size: int, out: str, note: Path) -> Any:
    from prefect import flow, task
    from prefect.futures import wait

    if system == "prefect_ray":
        from prefect_ray import RayTaskRunner

        # Ray is already up (main starts it once, as the raystra and raw-Ray workers do), so
        # the runner attaches to it instead of starting and stopping a Ray per flow run.
        runner: Any = RayTaskRunner()
    else:
        from prefect.task_runners import ThreadPoolTaskRunner

        runner = ThreadPoolTaskRunner(max_workers=os.cpu_count())

    @task
    def node(a: Any = None, b: Any = None) -> None:
        return None

    @task
    def generate(day: str) -> Any:
        table = work.make_rows(day)
        work.write_hive(table, out, "generated", day)
        return table

    @task
    def filtered(table: Any, day: str) -> Any:
        result = work.keep_large(table)
        work.write_hive(result, out, "filtered", day)
        return result

    @task
    def grouped(table: Any, day: str) -> Any:
        result = work.per_user(table)
        work.write_hive(result, out, "grouped", day)
        return result

    @task
    def produce() -> Any:
        return work.stamped(work.make_table(size))

    @task
    def consume(table: Any) -> None:
        note.write_text(json.dumps(work.received(table)))

    @flow(task_runner=runner)
    def graph_flow(steps: int) -> None:
        layers, width = work.GRAPH_SHAPES[steps]
        futures: list[Any] = []
        for parents in work.layered_deps(layers, width):
            upstream = [futures[p] for p in parents]
            futures.append(node.submit(*upstream))
        wait(futures)
        for future in futures:
            future.result()

    @flow(task_runner=runner)
    def backfill_flow(count: int) -> None:
        futures = []
        for day in work.days(count):
            futures.append(grouped.submit(filtered.submit(generate.submit(day), day), day))
        for future in futures:
            future.result()

    @flow(task_runner=runner)
    def handoff_flow() -> None:
        consume.submit(produce.submit()).result()

    if workload == "graph":
        return lambda: graph_flow(size)
    if workload == "backfill":
        return lambda: backfill_flow(size)
    return handoff_flow


def main() -> None:
    args = parse_args(SYSTEMS)
    _configure(args.work_dir)
    out = os.path.join(args.work_dir, "outputs")
    note = Path(args.work_dir) / "stamps.json"
    if args.system == "prefect_ray":
        import ray

        # One local Ray for the whole process, started before timing like the other Ray
        # systems' (2 CPUs here). Left to itself, RayTaskRunner starts a Ray on entering each
        # flow run and shuts it down on leaving it, so every timed run would pay a cold start
        # (5-9 s) and fresh workers. address="local": a new Ray, even when a stale
        # /tmp/ray/ray_current_cluster names a cluster (ray.init would try to join it).
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False)
    # Warm-up: the ephemeral server, the task runner and Ray workers, a 10-step graph run.
    build(args.system, "graph", 10, out, note)()
    run = build(args.system, args.workload, args.size, out, note)
    time.sleep(0.5)
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    extra: dict[str, Any] = {}
    if args.workload == "backfill":
        extra["files"] = work.parquet_files(out)
    if args.workload == "handoff":
        stamps = json.loads(note.read_text())
        extra["handoff_s"] = stamps["arrived_at"] - stamps["handed_over_at"]
        extra["rows"] = stamps["rows"]
    report(seconds, **extra)


if __name__ == "__main__":
    main()
