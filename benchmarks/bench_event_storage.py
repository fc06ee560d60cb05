"""Event storage cost: what `SqlRunStorage.store_events` spends per step on SQLite.

The events of a real 1,000-step run (the layered graph of `bench_overhead`, in process) are
stored again and again under fresh run ids, in the batches a run uses (250 events), into a
fresh SQLite file. Beside it, the floor: the same event-log rows, already encoded, inserted
with plain sqlite3 ``executemany`` into the same table and committed per batch. raystra does
more than the floor (it encodes each payload, writes the materialization index, the lineage
rows and the partition status), so the ratio shows what that costs on top of SQLite itself.
Both sides alternate; medians over the repeats.

Run: python benchmarks/bench_event_storage.py [--repeat 7] [--batch 250]
Writes benchmarks/results/event_storage.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _graphs import layered_assets

import raystra
from raystra.events import Event, event_to_dict
from raystra.storage import open_storage
from raystra.storage._base import RunRecord


def _run_events() -> list[Event]:
    """The step events of one 1,000-step run (run start and end left out)."""
    result = raystra.materialize(
        raystra.Definitions(layered_assets(10, 100)), executor="in_process"
    )
    return [e for e in result.events if e.kind not in ("RunStarted", "RunSucceeded")]


def _raystra(storage: Any, events: list[Event], run_id: str, batch: int) -> float:
    storage.add_run(RunRecord(run_id=run_id))
    mine = [dataclasses.replace(event, run_id=run_id) for event in events]
    started = time.perf_counter()
    for start in range(0, len(mine), batch):
        storage.store_events(mine[start : start + batch])
    return time.perf_counter() - started


def _floor(path: str, events: list[Event], run_id: str, batch: int) -> float:
    rows = [
        (
            run_id,
            event.kind,
            getattr(event, "step_key", None),
            None,
            event.timestamp,
            json.dumps(event_to_dict(dataclasses.replace(event, run_id=run_id))),
        )
        for event in events
    ]
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute(
            "INSERT INTO runs (run_id, status, selection, run_config, tags, executor,"
            " created_at) VALUES (?, 'STARTED', '[]', '{}', '{}', 'bench', 0)",
            (run_id,),
        )
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            connection.execute("BEGIN")
            connection.executemany(
                "INSERT INTO events (run_id, kind, step_key, asset_key, timestamp, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows[start : start + batch],
            )
            connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batch", type=int, default=250)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="raystra-bench-storage-"))
    events = _run_events()
    steps = sum(1 for event in events if event.kind == "StepStarted")
    path = str(home / "raystra.db")
    storage = open_storage(f"sqlite:///{path}")
    ours, floor = [], []
    try:
        _raystra(storage, events, "warm-up", args.batch)
        for index in range(args.repeat):
            ours.append(_raystra(storage, events, f"raystra-{index}", args.batch))
            floor.append(_floor(path, events, f"floor-{index}", args.batch))
    finally:
        storage.close()
    row = {
        "steps": steps,
        "events": len(events),
        "batch": args.batch,
        "raystra_us_per_step": 1e6 * statistics.median(ours) / steps,
        "floor_us_per_step": 1e6 * statistics.median(floor) / steps,
        "raystra_runs_s": ours,
        "floor_runs_s": floor,
    }
    row["ratio"] = row["raystra_us_per_step"] / row["floor_us_per_step"]
    print(
        f"{steps} steps, {len(events)} events, batches of {args.batch}: raystra "
        f"{row['raystra_us_per_step']:.1f} us per step, plain sqlite3 event-log floor "
        f"{row['floor_us_per_step']:.1f} us per step, ratio {row['ratio']:.2f} (medians)"
    )
    out = Path(__file__).parent / "results" / "event_storage.json"
    out.write_text(json.dumps(row, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
