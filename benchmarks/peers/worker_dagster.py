"""Worker: Dagster, with its in-process and multiprocess executors.

Set up as Dagster's docs recommend for each workload:

- graph: the layered graph as software-defined assets, run as one job; in-process executor
  (``materialize``, with ``mem_io_manager``: values stay in memory) and the multiprocess
  executor (``execute_job`` on a reconstructable job with a persistent local instance, as
  multiprocess runs require; values, all None, go through the default filesystem IO manager,
  the only way Dagster passes them between processes).
- backfill: three daily-partitioned assets with ``BackfillPolicy.single_run()``, the policy
  Dagster recommends for large backfills: one run over the whole range, each asset function
  receiving every day of its input and returning every day of its output, stored by a Parquet
  IO manager as one file per partition (the same files the other systems write).
- handoff: in-process with ``mem_io_manager`` (the table stays in memory: Dagster's fastest
  handoff) and multiprocess with the default filesystem IO manager (pickle on disk: how
  Dagster hands data between processes).
"""

# No `from __future__ import annotations`: Dagster reads the annotations of asset functions.

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import _work as work
import dagster as dg
from _protocol import parse_args, report

SYSTEMS = ("dagster_in_process", "dagster_multiprocess")
_DAILY = dg.DailyPartitionsDefinition(start_date="2023-01-01")


def _graph_assets(steps: int) -> list[dg.AssetsDefinition]:
    layers, width = work.GRAPH_SHAPES[steps]
    assets = []
    for index, parents in enumerate(work.layered_deps(layers, width)):
        if not parents:

            @dg.asset(name=f"n{index}")
            def root():  # type: ignore[no-untyped-def]  # `-> None` would mean "no output"
                return None

            assets.append(root)
        else:

            @dg.asset(
                name=f"n{index}",
                ins={"a": dg.AssetIn(f"n{parents[0]}"), "b": dg.AssetIn(f"n{parents[1]}")},
            )
            def node(a, b):  # type: ignore[no-untyped-def]
                return None

            assets.append(node)
    return assets


class DailyParquetIOManager(dg.ConfigurableIOManager):
    """Each partition of a ranged output as ``base/asset/partition=DAY/data.parquet``."""

    base: str

    def handle_output(self, context: dg.OutputContext, obj: dict[str, Any]) -> None:
        name = context.asset_key.path[-1]
        for day, table in obj.items():
            work.write_hive(table, self.base, name, day)

    def load_input(self, context: dg.InputContext) -> dict[str, Any]:
        import pyarrow.parquet as pq

        name = context.asset_key.path[-1]
        return {
            day: pq.read_table(os.path.join(self.base, name, f"partition={day}", "data.parquet"))
            for day in context.asset_partition_keys
        }


@dg.asset(partitions_def=_DAILY, backfill_policy=dg.BackfillPolicy.single_run())
def generated(context: dg.AssetExecutionContext) -> dict[str, Any]:
    return {day: work.make_rows(day) for day in context.partition_keys}


@dg.asset(partitions_def=_DAILY, backfill_policy=dg.BackfillPolicy.single_run())
def filtered(generated: dict[str, Any]) -> dict[str, Any]:
    return {day: work.keep_large(table) for day, table in generated.items()}


@dg.asset(partitions_def=_DAILY, backfill_policy=dg.BackfillPolicy.single_run())
def grouped(filtered: dict[str, Any]) -> dict[str, Any]:
    return {day: work.per_user(table) for day, table in filtered.items()}


def _handoff_assets(mb: int, note: Path) -> list[dg.AssetsDefinition]:
    @dg.asset
    def producer() -> Any:
        return work.stamped(work.make_table(mb))

    @dg.asset
    def consumer(producer: Any) -> None:
        note.write_text(json.dumps(work.received(producer)))

    return [producer, consumer]


def job_for_multiprocess(workload: str, size: int, out: str, note: str) -> dg.JobDefinition:
    """The job ``execute_job`` rebuilds in every step process, from these arguments."""
    if workload == "graph":
        assets: list[Any] = _graph_assets(size)
        resources: dict[str, Any] = {}
    elif workload == "backfill":
        assets = [generated, filtered, grouped]
        resources = {"io_manager": DailyParquetIOManager(base=out)}
    else:
        assets = _handoff_assets(size, Path(note))
        resources = {}
    defs = dg.Definitions(
        assets=assets,
        resources=resources,
        jobs=[dg.define_asset_job("bench", executor_def=dg.multiprocess_executor)],
    )
    return defs.resolve_job_def("bench")


def _range_tags(count: int) -> dict[str, str]:
    keys = work.days(count)
    return {
        "dagster/asset_partition_range_start": keys[0],
        "dagster/asset_partition_range_end": keys[-1],
    }


def run_in_process(workload: str, size: int, out: str, note: Path) -> float:
    if workload == "graph":
        assets: list[Any] = _graph_assets(size)
        resources: dict[str, Any] = {"io_manager": dg.mem_io_manager}
        tags: dict[str, str] = {}
    elif workload == "backfill":
        assets = [generated, filtered, grouped]
        resources = {"io_manager": DailyParquetIOManager(base=out)}
        tags = _range_tags(size)
    else:
        assets = _handoff_assets(size, note)
        resources = {"io_manager": dg.mem_io_manager}
        tags = {}
    started = time.perf_counter()
    result = dg.materialize(assets, resources=resources, tags=tags)
    elapsed = time.perf_counter() - started
    assert result.success
    return elapsed


def run_multiprocess(workload: str, size: int, out: str, note: Path, home: str) -> float:
    tags = _range_tags(size) if workload == "backfill" else {}
    os.makedirs(home, exist_ok=True)
    with dg.DagsterInstance.local_temp(tempdir=home) as instance:
        started = time.perf_counter()
        result = dg.execute_job(
            dg.build_reconstructable_job(
                "worker_dagster",
                "job_for_multiprocess",
                reconstructable_args=(workload, size, out, str(note)),
            ),
            instance=instance,
            tags=tags,
        )
        elapsed = time.perf_counter() - started
        assert result.success
    return elapsed


def main() -> None:
    args = parse_args(SYSTEMS)
    home = os.path.join(args.work_dir, "dagster_home")
    os.makedirs(home, exist_ok=True)
    out = os.path.join(args.work_dir, "outputs")
    note = Path(args.work_dir) / "stamps.json"
    multiprocess = args.system == "dagster_multiprocess"
    # Warm-up: the executor's code path once, untimed (10-step graph).
    if multiprocess:
        run_multiprocess("graph", 10, out, note, os.path.join(home, "warm"))
        seconds = run_multiprocess(args.workload, args.size, out, note, home)
    else:
        run_in_process("graph", 10, out, note)
        seconds = run_in_process(args.workload, args.size, out, note)
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
