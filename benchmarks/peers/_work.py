"""The work every system runs, as plain functions of numpy and pyarrow only.

raystra, raw Ray, Dagster and Prefect call these same functions, so the systems differ only
in how they orchestrate, hand data over and store it. Importable from any of the benchmark
venvs (nothing here imports an orchestrator).
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROWS_PER_DAY = 10_000
BACKFILL_START = date(2023, 1, 1)

# Layered graphs: steps -> (layers, width); each node reads two nodes of the layer above.
GRAPH_SHAPES = {10: (2, 5), 100: (5, 20), 1000: (10, 100), 5000: (50, 100), 10_000: (100, 100)}


def layered_deps(layers: int, width: int) -> list[list[int]]:
    """For each node (layer-major order), the indices of its two parents in the layer above."""
    deps: list[list[int]] = []
    for layer in range(layers):
        for position in range(width):
            if layer == 0:
                deps.append([])
            else:
                above = (layer - 1) * width
                deps.append(sorted({above + position, above + (position + 1) % width}))
    return deps


def days(count: int) -> list[str]:
    """``count`` consecutive daily partition keys from 2023-01-01."""
    return [(BACKFILL_START + timedelta(days=i)).isoformat() for i in range(count)]


def make_rows(day: str) -> pa.Table:
    """A day of synthetic orders (10,000 rows), the same for the same day in every system."""
    rng = np.random.default_rng(date.fromisoformat(day).toordinal())
    return pa.table(
        {
            "user": rng.integers(0, 500, ROWS_PER_DAY),
            "amount": rng.random(ROWS_PER_DAY) * 100.0,
            "kind": rng.integers(0, 4, ROWS_PER_DAY),
        }
    )


def keep_large(table: pa.Table) -> pa.Table:
    return table.filter(pc.greater(table["amount"], 50.0))


def per_user(table: pa.Table) -> pa.Table:
    return table.group_by("user").aggregate([("amount", "sum"), ("amount", "count")])


def write_hive(table: pa.Table, folder: str, name: str, key: str) -> str:
    """Store ``table`` as ``folder/name/partition=key/data.parquet``: temp file, then rename."""
    parent = os.path.join(folder, name, f"partition={key}")
    os.makedirs(parent, exist_ok=True)
    temp = os.path.join(parent, f"_data.parquet.tmp-{uuid.uuid4().hex}")
    pq.write_table(table, temp)
    final = os.path.join(parent, "data.parquet")
    os.replace(temp, final)
    return final


def parquet_files(folder: str) -> int:
    """How many ``data.parquet`` files a backfill left under ``folder`` (a sanity check)."""
    return sum(name == "data.parquet" for _, _, files in os.walk(folder) for name in files)


def make_table(mb: int) -> pa.Table:
    """A table of ``mb`` MB: two int64 columns with distinct buffers, so all of it moves."""
    rows = mb * 2**20 // 16
    column = np.arange(rows, dtype=np.int64)
    return pa.table({"a": column, "b": column + 1})


def stamped(table: pa.Table) -> pa.Table:
    """``table`` carrying the time its producer handed it over (metadata only, no copy)."""
    return table.replace_schema_metadata({"handed_over_at": repr(time.time())})


def received(table: pa.Table) -> dict[str, float]:
    """What a consumer reports: when the table was handed over, when it arrived, its rows."""
    arrived = time.time()
    handed = float(table.schema.metadata[b"handed_over_at"])
    return {"handed_over_at": handed, "arrived_at": arrived, "rows": float(table.num_rows)}
