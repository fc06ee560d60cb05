"""The ``raystra.*`` attribute names shared by spans, metrics and log records.

Span and metric *names* stay low-cardinality (``raystra.step``, ``raystra.io.read``...);
identifiers (run id, asset key, partition) live in these attributes. docs/observability.md
documents each one; changing a name is a breaking change for users' dashboards.
"""

from __future__ import annotations

__all__ = [
    "ASSET_KEY",
    "ASSET_KEYS",
    "BACKFILL_ID",
    "BACKFILL_TARGET_STATE",
    "CHECK_NAME",
    "CHECK_PASSED",
    "CHECK_SEVERITY",
    "ERROR_TYPE",
    "EXECUTOR",
    "IO_BYTES",
    "IO_INPUT",
    "IO_MANAGER",
    "IO_OUTPUT",
    "IO_PATH",
    "IO_ROWS",
    "JOB_NAME",
    "NODE",
    "PARTITION_COUNT",
    "PARTITION_KEY",
    "PARTITION_RANGE_END",
    "PARTITION_RANGE_START",
    "PROCESS_PID",
    "RAY_NODE_ID",
    "RAY_TASK_ID",
    "RAY_WORKER_ID",
    "RUN_ID",
    "RUN_STATUS",
    "STEP_ATTEMPT",
    "STEP_KEY",
    "STEP_STATUS",
]

RUN_ID = "raystra.run.id"
RUN_STATUS = "raystra.run.status"  # SUCCESS | FAILURE | CANCELED
EXECUTOR = "raystra.run.executor"
JOB_NAME = "raystra.job.name"
BACKFILL_ID = "raystra.backfill.id"
# Metrics only: done | failed | pending, the state of a backfill's targets on its gauges.
BACKFILL_TARGET_STATE = "raystra.backfill.target.state"

STEP_KEY = "raystra.step.key"
STEP_ATTEMPT = "raystra.step.attempt"  # 1 for the first attempt
STEP_STATUS = "raystra.step.status"  # success | failed | skipped | killed | canceled
ASSET_KEY = "raystra.asset.key"  # the first asset of the step, "a/b" form
ASSET_KEYS = "raystra.asset.keys"  # every asset a multi-asset step produces
PARTITION_KEY = "raystra.partition.key"  # set when the step covers one partition
PARTITION_RANGE_START = "raystra.partition.range_start"  # set for range steps
PARTITION_RANGE_END = "raystra.partition.range_end"
PARTITION_COUNT = "raystra.partition.count"

NODE = "raystra.node"  # host name of the machine the attempt ran on
PROCESS_PID = "process.pid"  # OpenTelemetry semantic convention
RAY_NODE_ID = "raystra.ray.node_id"
RAY_TASK_ID = "raystra.ray.task_id"
RAY_WORKER_ID = "raystra.ray.worker_id"

IO_MANAGER = "raystra.io.manager"  # resource key of the IO manager
IO_INPUT = "raystra.io.input"  # input (parameter) name for reads
IO_OUTPUT = "raystra.io.output"  # output name for writes
IO_PATH = "raystra.io.path"
IO_ROWS = "raystra.io.rows"
IO_BYTES = "raystra.io.bytes"

# Asset check spans (``raystra.check``): which check, and its result.
CHECK_NAME = "raystra.check.name"
CHECK_PASSED = "raystra.check.passed"
CHECK_SEVERITY = "raystra.check.severity"  # ERROR | WARN

ERROR_TYPE = "error.type"  # OpenTelemetry semantic convention: the exception's class name
