"""Partition status at scale: missing/stale ranges of a 100,000-partition asset, and planning.

Records 100,000 hourly materializations of one asset (and of an hourly downstream asset that
read them) in a fresh SQLite run storage, re-materializes a few upstream partitions, then
times what `raystra assets status` and `backfill --missing/--stale` compute: each state's
partitions and their ranges. Also times planning a 10,000-step backfill.

Run: python benchmarks/bench_partition_status.py [--partitions 100000]
Writes benchmarks/results/partition_status.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("RAYSTRA_HOME", tempfile.mkdtemp(prefix="raystra-bench-"))

from raystra import AssetKey, Definitions, HourlyPartitionsDefinition, asset
from raystra.api import PartitionRequest, asset_partition_status
from raystra.api._backfill import plan_assets
from raystra.events import AssetMaterialized, data_version
from raystra.storage import RunRecord, open_storage


def _definitions(count: int) -> Definitions:
    start = datetime(2010, 1, 1, tzinfo=UTC)
    hours = HourlyPartitionsDefinition(start_date=start, end_date=start + timedelta(hours=count))

    @asset(partitions_def=hours)
    def readings() -> None:
        return None

    @asset(partitions_def=hours)
    def cleaned(readings: None) -> None:
        return None

    return Definitions([readings, cleaned])


def _record(storage: object, defs: Definitions, run_id: str, keys: list[str], asset: str) -> None:
    storage.add_run(RunRecord(run_id=run_id, created_at=time.time()))  # type: ignore[attr-defined]
    batch = []
    for key in keys:
        consumed = ()
        if asset == "cleaned":
            version = data_version("readings", key, "seed", None)
            consumed = (
                {
                    "asset_key": "readings",
                    "partition": key,
                    "run_id": "seed",
                    "data_version": version,
                },
            )
        batch.append(
            AssetMaterialized(
                run_id=run_id,
                step_key=f"{asset}[{key}]",
                asset_key=AssetKey(asset),
                partition=key,
                data_version=data_version(asset, key, run_id, None),
                consumed=consumed,
            )
        )
        if len(batch) == 5_000:
            storage.store_events(batch)  # type: ignore[attr-defined]
            batch = []
    if batch:
        storage.store_events(batch)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=100_000)
    args = parser.parse_args()
    defs = _definitions(args.partitions)
    keys = list(defs.partitions_def_for(AssetKey("readings")).get_partition_keys())  # type: ignore[union-attr]
    storage = open_storage()
    started = time.perf_counter()
    _record(storage, defs, "seed", keys[: len(keys) - 1000], "readings")  # 1,000 missing
    _record(storage, defs, "seed2", keys[: len(keys) - 1000], "cleaned")
    _record(storage, defs, "later", keys[100:110], "readings")  # 10 readers become stale
    setup = time.perf_counter() - started

    timings = {}
    for name in ("readings", "cleaned"):
        started = time.perf_counter()
        status = asset_partition_status(defs, AssetKey(name), storage)
        ranges = {state: status.ranges(state) for state in ("missing", "stale")}
        timings[name] = time.perf_counter() - started
        print(f"{name}: {status.counts} ranges {ranges} in {timings[name]:.3f} s")

    small = _definitions(10_000)
    started = time.perf_counter()
    plan = plan_assets(small, [AssetKey("readings")], PartitionRequest(all=True), storage)
    planning = time.perf_counter() - started
    print(f"planning a {len(plan.steps)}-step backfill: {planning:.3f} s")
    out = Path(__file__).parent / "results" / "partition_status.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "partitions": args.partitions,
                "setup_s": setup,
                "status_s": timings,
                "plan_10000_steps_s": planning,
            },
            indent=2,
        )
    )
    print(f"(recording {2 * len(keys)} materializations took {setup:.1f} s) wrote {out}")


if __name__ == "__main__":
    main()
