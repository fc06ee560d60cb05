"""Turning definitions and a selection into a frozen execution plan (pure: no Ray, no DB)."""

from raystra.planning._checks import build_check_plan
from raystra.planning._partitioned import build_partitioned_plan, partition_step_key
from raystra.planning._plan import (
    ExecutionPlan,
    Step,
    StepInput,
    build_asset_plan,
    build_job_plan,
)
from raystra.planning._run_config import node_for_step, validate_run_config
from raystra.planning._selection import AssetSelection

__all__ = [
    "AssetSelection",
    "ExecutionPlan",
    "Step",
    "StepInput",
    "build_asset_plan",
    "build_check_plan",
    "build_job_plan",
    "build_partitioned_plan",
    "node_for_step",
    "partition_step_key",
    "validate_run_config",
]
