"""A Spark step reading an upstream raystra asset vs Spark reading the same Parquet directly.

An upstream asset of ROWS rows is materialized once (pyarrow writes its Parquet). Then,
alternating: (1) raystra: an asset annotated ``pyspark.sql.DataFrame`` gets the upstream
loaded by the Spark engine and aggregates it; (2) direct: the same aggregation on
``spark.read.parquet(path)`` in the same process and session. Both run the same Spark job on
the same embedded Spark Connect server; the ratio (raystra / direct, median) is the cost of
the IO manager and step around Spark's read (target <= 1.2).

Run: python benchmarks/bench_spark_read.py [--rows 5000000] [--repeat 5]
Writes benchmarks/results/spark_read.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import raystra
from raystra.definitions import AssetKey, InputContext, OutputContext
from raystra_io import ParquetIOManager
from raystra_spark import SparkResource, stop_embedded_spark


def _aggregate(frame: Any) -> float:
    return float(frame.selectExpr("sum(a * b) AS s").collect()[0]["s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench_spark_read_"))
    os.environ["RAYSTRA_HOME"] = str(home)
    rng = np.random.default_rng(0)
    table = pa.table({"a": rng.random(args.rows), "b": rng.random(args.rows)})

    @raystra.asset
    def points() -> pa.Table:
        return table

    raystra.materialize([points], executor="in_process")
    io = ParquetIOManager(base_path=str(home / "storage"))
    upstream = OutputContext(run_id="bench", step_key="points", asset_key=AssetKey("points"))
    spark = SparkResource()
    session = spark.get_session()
    path = str(home / "storage" / "points.parquet")
    context = InputContext(
        name="points",
        step_key="total",
        upstream_output=upstream,
        expected_type=type(session.range(1)),
        resources=raystra.definitions.Resources({"spark": spark}),
    )
    _aggregate(session.read.parquet(path))  # warm the server (JIT, file listing caches)
    timings: dict[str, list[float]] = {"raystra": [], "direct": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        _aggregate(io.load_input(context))
        timings["raystra"].append(time.perf_counter() - start)
        start = time.perf_counter()
        _aggregate(session.read.parquet(path))
        timings["direct"].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    ratio = medians["raystra"] / medians["direct"]
    result = {
        "rows": args.rows,
        "repeat": args.repeat,
        "median_s": medians,
        "timings_s": timings,
        "ratio": ratio,
        "target": 1.2,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    out = Path(__file__).parent / "results" / "spark_read.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"raystra {medians['raystra'] * 1e3:.0f} ms, direct {medians['direct'] * 1e3:.0f} ms, "
        f"ratio {ratio:.2f} (target <= 1.2) -> {out}"
    )
    stop_embedded_spark()


if __name__ == "__main__":
    main()
