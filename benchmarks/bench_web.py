"""Web API at scale: the asset graph of 2,000 assets and the partition bar of 50,000 partitions.

Times what the UI asks for when it opens the graph (``GET /api/assets``: every asset with its
state) and an asset's partitions view (``GET /api/assets/{key}/partitions``: one state letter
per partition), against real SQLite run storage in a fresh RAYSTRA_HOME, through FastAPI's
test client (no network). The tests check these stay a handful of queries; this measures time.

Run: python benchmarks/bench_web.py [--repeat 5]
Writes benchmarks/results/web.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("RAYSTRA_HOME", tempfile.mkdtemp(prefix="raystra-bench-web-"))
os.environ.setdefault("RAYSTRA_EXECUTOR", "in_process")

from fastapi.testclient import TestClient

import raystra
from raystra import AssetKey, Definitions, HourlyPartitionsDefinition, asset
from raystra.events import AssetMaterialized, RunStarted
from raystra.storage import RunRecord, open_storage
from raystra.web import create_app


def _chains(count: int) -> Definitions:
    def make(i: int) -> Any:  # chains of 100 assets, groups of 200
        @asset(name=f"a{i}", deps=[f"a{i - 1}"] if i % 100 else [], group_name=f"g{i // 200}")
        def node() -> None:
            return None

        return node

    return Definitions(assets=[make(i) for i in range(count)])


def _partitioned(materialized: int) -> tuple[Definitions, int]:
    hourly = HourlyPartitionsDefinition(start_date="2019-01-01-00:00", end_date="2024-09-14-08:00")

    @asset(partitions_def=hourly)
    def metrics() -> int:
        return 1

    keys = hourly.get_partition_keys()
    storage = open_storage()
    storage.add_run(RunRecord(run_id="bulk", created_at=1.0))
    storage.store_events([RunStarted(run_id="bulk")])
    storage.store_events(
        [
            AssetMaterialized(
                run_id="bulk", step_key=f"metrics[{k}]", asset_key=AssetKey("metrics"), partition=k
            )
            for k in keys[:materialized]
        ]
    )
    storage.close()
    return Definitions(assets=[metrics]), len(keys)


def _time(client: TestClient, path: str, repeat: int, check: Callable[[Any], None]) -> list[float]:
    check(client.get(path).json())  # warm-up: imports, first connection
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        body = client.get(path).json()
        seconds.append(time.perf_counter() - started)
        check(body)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    graph = _chains(2000)
    raystra.materialize(graph, "*")
    with TestClient(create_app(graph)) as client:
        assets_s = _time(
            client,
            "/api/assets",
            args.repeat,
            lambda body: len(body["assets"]) == 2000 or _fail("expected 2,000 assets"),
        )
    partitioned, count = _partitioned(45_000)
    with TestClient(create_app(partitioned)) as client:
        partitions_s = _time(
            client,
            "/api/assets/metrics/partitions",
            args.repeat,
            lambda body: len(body["states"]) == count or _fail(f"expected {count} states"),
        )
    rows = [
        {"request": "GET /api/assets (2,000 assets)", "seconds": assets_s},
        {
            "request": f"GET /api/assets/metrics/partitions ({count:,} partitions)",
            "seconds": partitions_s,
        },
    ]
    for row in rows:
        seconds = row["seconds"]
        row["median_s"] = statistics.median(seconds)
        print(
            f"{row['request']}: median {row['median_s'] * 1000:.0f} ms "
            f"[{min(seconds) * 1000:.0f}-{max(seconds) * 1000:.0f}]"
        )
    out = Path(__file__).parent / "results" / "web.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "repeat": args.repeat,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


def _fail(message: str) -> bool:
    raise SystemExit(message)


if __name__ == "__main__":
    main()
