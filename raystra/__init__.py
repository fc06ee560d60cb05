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

from raystra.definitions import (
    AllPartitionMapping,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Backoff,
    Config,
    ConfigurableIOManager,
    ConfigurableResource,
    DailyPartitionsDefinition,
    Definitions,
    DynamicPartitionsDefinition,
    EnvVar,
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
    "AllPartitionMapping",
    "AssetExecutionContext",
    "AssetIn",
    "AssetKey",
    "AssetLineage",
    "AssetOut",
    "AssetSelection",
    "AssetSpec",
    "AssetsDefinition",
    "BackfillPolicy",
    "BackfillResult",
    "Backoff",
    "Config",
    "ConfigurableIOManager",
    "ConfigurableResource",
    "CycleError",
    "DailyPartitionsDefinition",
    "Definitions",
    "DuplicateKeyError",
    "DynamicPartitionsDefinition",
    "EnvVar",
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
    "RunResult",
    "StaticPartitionMapping",
    "StaticPartitionsDefinition",
    "StepExecutionError",
    "TimeWindow",
    "TimeWindowPartitionMapping",
    "TimeWindowPartitionsDefinition",
    "UnknownAssetError",
    "WeeklyPartitionsDefinition",
    "asset",
    "backfill",
    "build_asset_context",
    "build_op_context",
    "execute_job",
    "job",
    "lineage",
    "load_asset_value",
    "materialize",
    "multi_asset",
    "op",
    "reexecute",
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
