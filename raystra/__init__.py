"""raystra: asset-centric data orchestration on Ray.

Declare assets with `asset`, collect them in `Definitions`, and run them with `materialize` (or
the ``raystra`` CLI). Names follow Dagster's wherever the concept is the same, so an asset module
ports by changing its imports.

Example:
    >>> import raystra
    >>> @raystra.asset
    ... def orders() -> list[int]:
    ...     return [1, 2, 3]
    >>> @raystra.asset
    ... def order_count(orders: list[int]) -> int:
    ...     return len(orders)
    >>> defs = raystra.Definitions(assets=[orders, order_count])
    >>> order_count([1, 2])  # assets stay plain functions for unit tests
    2

``import raystra`` stays light: it imports neither ray, pandas nor sqlalchemy. The run API
(`materialize`, `execute_job`, `reexecute`, `load_asset_value`,
`lineage`) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raystra.automation import (
    AddDynamicPartitionsRequest,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    FreshnessPolicySensorContext,
    RunRequest,
    RunStatusSensorContext,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset_sensor,
    build_schedule_from_partitioned_job,
    freshness_policy_sensor,
    new_files_sensor,
    run_failure_sensor,
    run_status_sensor,
    schedule,
    sensor,
)
from raystra.definitions import (
    AllPartitionMapping,
    AssetCheckDefinition,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    AutomationCondition,
    BackfillPolicy,
    Backoff,
    Config,
    ConfigurableIOManager,
    ConfigurableResource,
    DailyPartitionsDefinition,
    Definitions,
    DynamicPartitionsDefinition,
    EnvVar,
    FreshnessPolicy,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    In,
    InputContext,
    IOManager,
    Jitter,
    JobDefinition,
    LastPartitionMapping,
    MaterializeResult,
    MonthlyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    OpDefinition,
    OpExecutionContext,
    Out,
    Output,
    OutputContext,
    OutputSchemaError,
    PartitionKeyRange,
    PartitionMapping,
    PartitionsDefinition,
    RetryPolicy,
    RunConfig,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindow,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
    asset,
    asset_check,
    build_asset_context,
    build_op_context,
    job,
    multi_asset,
    op,
)
from raystra.errors import (
    CycleError,
    DuplicateKeyError,
    InvalidDefinitionError,
    MissingResourceError,
    NothingToRunError,
    PartitionKeyError,
    PartitionMappingError,
    RaystraError,
    RunConfigError,
    StepExecutionError,
    UnknownAssetError,
)
from raystra.planning import AssetSelection

if TYPE_CHECKING:
    from raystra.api import (
        AssetLineage,
        BackfillResult,
        LineageMaterialization,
        LineageNode,
        PartitionRequest,
        RunResult,
        backfill,
        execute_job,
        lineage,
        load_asset_value,
        materialize,
        reexecute,
    )

__version__ = "0.1.0"

__all__ = [
    "AddDynamicPartitionsRequest",
    "AllPartitionMapping",
    "AssetCheckDefinition",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "AssetExecutionContext",
    "AssetIn",
    "AssetKey",
    "AssetLineage",
    "AssetOut",
    "AssetSelection",
    "AssetSpec",
    "AssetsDefinition",
    "AutomationCondition",
    "BackfillPolicy",
    "BackfillResult",
    "Backoff",
    "Config",
    "ConfigurableIOManager",
    "ConfigurableResource",
    "CycleError",
    "DailyPartitionsDefinition",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "Definitions",
    "DuplicateKeyError",
    "DynamicPartitionsDefinition",
    "EnvVar",
    "FreshnessPolicy",
    "FreshnessPolicySensorContext",
    "HourlyPartitionsDefinition",
    "IOManager",
    "IdentityPartitionMapping",
    "In",
    "InputContext",
    "InvalidDefinitionError",
    "Jitter",
    "JobDefinition",
    "LastPartitionMapping",
    "LineageMaterialization",
    "LineageNode",
    "MaterializeResult",
    "MissingResourceError",
    "MonthlyPartitionsDefinition",
    "MultiPartitionKey",
    "MultiPartitionsDefinition",
    "MultiToSingleDimensionPartitionMapping",
    "NothingToRunError",
    "OpDefinition",
    "OpExecutionContext",
    "Out",
    "Output",
    "OutputContext",
    "OutputSchemaError",
    "PartitionKeyError",
    "PartitionKeyRange",
    "PartitionMapping",
    "PartitionMappingError",
    "PartitionRequest",
    "PartitionsDefinition",
    "RaystraError",
    "RetryPolicy",
    "RunConfig",
    "RunConfigError",
    "RunRequest",
    "RunResult",
    "RunStatusSensorContext",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SensorResult",
    "SkipReason",
    "StaticPartitionMapping",
    "StaticPartitionsDefinition",
    "StepExecutionError",
    "TimeWindow",
    "TimeWindowPartitionMapping",
    "TimeWindowPartitionsDefinition",
    "UnknownAssetError",
    "WeeklyPartitionsDefinition",
    "asset",
    "asset_check",
    "asset_sensor",
    "backfill",
    "build_asset_context",
    "build_op_context",
    "build_schedule_from_partitioned_job",
    "execute_job",
    "freshness_policy_sensor",
    "job",
    "lineage",
    "load_asset_value",
    "materialize",
    "multi_asset",
    "new_files_sensor",
    "op",
    "reexecute",
    "run_failure_sensor",
    "run_status_sensor",
    "schedule",
    "sensor",
]

# Names served by raystra.api, imported on first access so `import raystra` stays cheap.
_LAZY_API = {
    "AssetLineage",
    "BackfillResult",
    "LineageMaterialization",
    "LineageNode",
    "PartitionRequest",
    "RunResult",
    "backfill",
    "execute_job",
    "lineage",
    "load_asset_value",
    "materialize",
    "reexecute",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_API:
        import raystra.api

        return getattr(raystra.api, name)
    raise AttributeError(f"module 'raystra' has no attribute {name!r}")
