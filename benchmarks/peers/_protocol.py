"""How run_peers.py talks to a worker: command-line arguments in, one JSON line out.

A worker process runs one measurement of one workload on one system: it imports the system,
warms it up (starts Ray, runs a tiny graph once), then times the workload and prints
``RESULT {...}`` with the figures. Everything before that line is the worker's own output.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from typing import Any

RESULT_PREFIX = "RESULT "


def parse_args(systems: tuple[str, ...]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--system", choices=systems, required=True)
    parser.add_argument("--workload", choices=("graph", "backfill", "handoff", "partitions"))
    parser.add_argument("--size", type=int, required=True, help="steps, days, MB or partitions")
    parser.add_argument("--work-dir", default=None, help="where outputs go (a temp dir)")
    args = parser.parse_args()
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix="peers-")
    return args


def report(seconds: float, **extra: Any) -> None:
    """Print the measurement for run_peers.py (``seconds`` is the headline figure)."""
    print(RESULT_PREFIX + json.dumps({"seconds": seconds, **extra}), flush=True)
    sys.stdout.flush()
