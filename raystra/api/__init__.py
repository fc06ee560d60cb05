"""The facade the CLI (and later the web UI) call: materialize, execute jobs, re-execute, query.

Everything here composes the lower layers: selection and planning, an executor's events, and
run storage. Nothing here knows how a step runs.
"""

from raystra.api._backfill import BackfillResult, backfill, cancel_backfill, resume_backfill
from raystra.api._launch import (
    RunResult,
    execute_job,
    load_asset_value,
    materialize,
    reexecute,
    resolve_selection,
)
from raystra.api._lineage import AssetLineage, LineageMaterialization, LineageNode, lineage
from raystra.api._partitions import (
    AssetPartitionStatus,
    PartitionRequest,
    asset_partition_status,
    resolve_targets,
)
from raystra.api._queries import (
    AssetStatus,
    asset_overview,
    get_run,
    list_runs,
    run_events,
    run_steps,
)
from raystra.storage import MaterializationRecord, RunRecord, StepStats

__all__ = [
    "AssetLineage",
    "AssetPartitionStatus",
    "AssetStatus",
    "BackfillResult",
    "LineageMaterialization",
    "LineageNode",
    "MaterializationRecord",
    "PartitionRequest",
    "RunRecord",
    "RunResult",
    "StepStats",
    "asset_overview",
    "asset_partition_status",
    "backfill",
    "cancel_backfill",
    "execute_job",
    "get_run",
    "lineage",
    "list_runs",
    "load_asset_value",
    "materialize",
    "reexecute",
    "resolve_selection",
    "resolve_targets",
    "resume_backfill",
    "run_events",
    "run_steps",
]
