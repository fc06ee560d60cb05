"""Worker: raystra (its public API, on a local Ray) and raw Ray tasks, the floor.

raystra runs with its defaults: Ray executor, SQLite run storage and the Parquet IO manager
under a fresh RAYSTRA_HOME, so every run, event and materialization is recorded. Raw Ray runs
the same functions as tasks chained by ObjectRefs, writing the same Parquet files where the
workload stores outputs, with nothing recorded.
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

SYSTEMS = ("raystra", "raw_ray")


# -- raw Ray -----------------------------------------------------------------------------------


def raw_graph(ray: Any, steps: int) -> float:
    @ray.remote
    def node(*parents: None) -> None:
        return None

    layers, width = work.GRAPH_SHAPES[steps]
    started = time.perf_counter()
    refs: list[Any] = []
    for parents in work.layered_deps(layers, width):
        refs.append(node.remote(*[refs[p] for p in parents]))
    ray.get(refs)
    return time.perf_counter() - started


def raw_backfill(ray: Any, count: int, folder: str) -> float:
    @ray.remote
    def generate(day: str) -> Any:
        table = work.make_rows(day)
        work.write_hive(table, folder, "generated", day)
        return table

    @ray.remote
    def filtered(table: Any, day: str) -> Any:
        out = work.keep_large(table)
        work.write_hive(out, folder, "filtered", day)
        return out

    @ray.remote
    def grouped(table: Any, day: str) -> Any:
        out = work.per_user(table)
        work.write_hive(out, folder, "grouped", day)
        return out

    started = time.perf_counter()
    refs = [grouped.remote(filtered.remote(generate.remote(d), d), d) for d in work.days(count)]
    ray.get(refs)
    return time.perf_counter() - started


def raw_handoff(ray: Any, mb: int) -> tuple[float, dict[str, float]]:
    @ray.remote
    def produce() -> Any:
        return work.stamped(work.make_table(mb))

    @ray.remote
    def consume(table: Any) -> dict[str, float]:
        return work.received(table)

    started = time.perf_counter()
    stamps = ray.get(consume.remote(produce.remote()))
    return time.perf_counter() - started, stamps


def raw_partitions(ray: Any, count: int) -> float:
    @ray.remote
    def noop(key: str) -> None:
        return None

    started = time.perf_counter()
    ray.get([noop.remote(str(i)) for i in range(count)])
    return time.perf_counter() - started


# -- raystra -------------------------------------------------------------------------------------


def raystra_graph(steps: int) -> float:
    import raystra

    layers, width = work.GRAPH_SHAPES[steps]
    assets = []
    for index, parents in enumerate(work.layered_deps(layers, width)):
        if not parents:
            assets.append(raystra.asset(name=f"n{index}")(_root))
        else:
            ins = {"a": raystra.AssetIn(f"n{parents[0]}"), "b": raystra.AssetIn(f"n{parents[1]}")}
            assets.append(raystra.asset(name=f"n{index}", ins=ins)(_node))
    defs = raystra.Definitions(assets)
    started = time.perf_counter()
    result = raystra.materialize(defs, executor="ray")
    elapsed = time.perf_counter() - started
    assert result.success, result.run_id
    return elapsed


def _root() -> None:
    return None


def _node(a: None, b: None) -> None:
    return None


def raystra_backfill(count: int) -> float:
    import pyarrow as pa

    import raystra

    daily = raystra.DailyPartitionsDefinition(start_date="2023-01-01")

    @raystra.asset(partitions_def=daily)
    def generated(context: raystra.AssetExecutionContext) -> pa.Table:
        return work.make_rows(context.partition_key)

    @raystra.asset(partitions_def=daily)
    def filtered(generated: pa.Table) -> pa.Table:
        return work.keep_large(generated)

    @raystra.asset(partitions_def=daily)
    def grouped(filtered: pa.Table) -> pa.Table:
        return work.per_user(filtered)

    defs = raystra.Definitions([generated, filtered, grouped])
    keys = work.days(count)
    started = time.perf_counter()
    result = raystra.backfill(
        defs, "*", partitions=raystra.PartitionRequest(keys=tuple(keys)), executor="ray"
    )
    elapsed = time.perf_counter() - started
    assert result.success, result.record.status
    return elapsed


def raystra_handoff(mb: int) -> tuple[float, dict[str, float]]:
    import pyarrow as pa

    import raystra

    # The consumer runs in a Ray worker: it leaves its stamps in a file the driver reads.
    note = Path(os.environ["RAYSTRA_HOME"]) / "stamps.json"

    @raystra.asset
    def producer() -> pa.Table:
        return work.stamped(work.make_table(mb))

    @raystra.asset
    def consumer(producer: pa.Table) -> None:
        note.write_text(json.dumps(work.received(producer)))

    defs = raystra.Definitions([producer, consumer])
    started = time.perf_counter()
    result = raystra.materialize(defs, executor="ray")
    elapsed = time.perf_counter() - started
    assert result.success, result.run_id
    return elapsed, dict(json.loads(note.read_text()))


def raystra_partitions(count: int) -> float:
    import raystra

    hourly = raystra.HourlyPartitionsDefinition(start_date="2023-01-01-00:00")

    @raystra.asset(partitions_def=hourly)
    def tick() -> None:
        return None

    defs = raystra.Definitions([tick])
    keys = tuple(hourly.get_partition_keys()[:count])
    started = time.perf_counter()
    result = raystra.backfill(defs, "*", partitions=raystra.PartitionRequest(keys=keys))
    elapsed = time.perf_counter() - started
    assert result.success, result.record.status
    return elapsed


def main() -> None:
    args = parse_args(SYSTEMS)
    os.environ["RAYSTRA_HOME"] = os.path.join(args.work_dir, "raystra_home")
    os.environ["RAYSTRA_EXECUTOR"] = "ray"
    import ray

    from raystra.execution.ray import connect

    connect()  # the local Ray both systems use (raystra's way of starting it)
    # Warm-up: Ray's workers started and each system's code path run once, untimed.
    if args.system == "raw_ray":
        raw_graph(ray, 10)
    else:
        raystra_graph(10)
    time.sleep(0.5)
    folder = os.path.join(args.work_dir, "outputs")
    extra: dict[str, Any] = {}
    if args.workload == "graph":
        seconds = (
            raw_graph(ray, args.size) if args.system == "raw_ray" else raystra_graph(args.size)
        )
    elif args.workload == "backfill":
        if args.system == "raw_ray":
            seconds = raw_backfill(ray, args.size, folder)
            extra["files"] = work.parquet_files(folder)
        else:
            seconds = raystra_backfill(args.size)
            extra["files"] = work.parquet_files(os.environ["RAYSTRA_HOME"])
    elif args.workload == "handoff":
        run = (
            raw_handoff(ray, args.size) if args.system == "raw_ray" else raystra_handoff(args.size)
        )
        seconds, stamps = run
        extra["handoff_s"] = stamps["arrived_at"] - stamps["handed_over_at"]
        extra["rows"] = stamps["rows"]
    else:
        run_partitions = raw_partitions(ray, args.size) if args.system == "raw_ray" else None
        seconds = run_partitions if run_partitions is not None else raystra_partitions(args.size)
    report(seconds, **extra)


if __name__ == "__main__":
    main()
