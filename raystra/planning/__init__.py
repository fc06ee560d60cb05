"""Turning definitions and a selection into a frozen execution plan (pure: no Ray, no DB)."""

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
    "build_job_plan",
    "node_for_step",
    "validate_run_config",
]
