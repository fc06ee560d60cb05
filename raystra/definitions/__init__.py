"""Declaring what a project produces: assets, ops, jobs, resources, config and Definitions."""

from raystra.definitions._asset import (
    AssetIn,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    asset,
    multi_asset,
)
from raystra.definitions._asset_check import (
    AssetCheckDefinition,
    AssetCheckResult,
    AssetCheckSeverity,
    asset_check,
)
from raystra.definitions._automation_condition import AutomationCondition
from raystra.definitions._builtin_checks import (
    null_fraction_check,
    row_count_check,
    schema_drift_check,
)
from raystra.definitions._config import Config, ConfigurableResource, EnvVar, RunConfig
from raystra.definitions._context import (
    AssetExecutionContext,
    OpExecutionContext,
    Resources,
    build_asset_context,
    build_op_context,
)
from raystra.definitions._definitions import Definitions, step_key_for, suggest
from raystra.definitions._freshness import FreshnessPolicy
from raystra.definitions._graph import AssetGraph
from raystra.definitions._home import raystra_home
from raystra.definitions._instigator import InstigatorDefinition
from raystra.definitions._io_manager import (
    ConfigurableIOManager,
    InMemoryIOManager,
    InputContext,
    IOManager,
    OutputContext,
)
from raystra.definitions._keys import AssetKey, CoercibleToAssetKey
from raystra.definitions._node import NodeDefinition, NodeInput, NodeOutput
from raystra.definitions._op import In, JobDefinition, JobNode, OpDefinition, Out, job, op
from raystra.definitions._output_schema import OutputSchemaError
from raystra.definitions._partitions import (
    AllPartitionMapping,
    BackfillPolicy,
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    LastPartitionMapping,
    MonthlyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    PartitionKeyRange,
    PartitionMapping,
    PartitionsDefinition,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindow,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from raystra.definitions._results import MaterializeResult, Output
from raystra.definitions._retry import Backoff, Jitter, RetryPolicy

__all__ = [
    "AllPartitionMapping",
    "AssetCheckDefinition",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "AssetExecutionContext",
    "AssetGraph",
    "AssetIn",
    "AssetKey",
    "AssetOut",
    "AssetSpec",
    "AssetsDefinition",
    "AutomationCondition",
    "BackfillPolicy",
    "Backoff",
    "CoercibleToAssetKey",
    "Config",
    "ConfigurableIOManager",
    "ConfigurableResource",
    "DailyPartitionsDefinition",
    "Definitions",
    "DynamicPartitionsDefinition",
    "EnvVar",
    "FreshnessPolicy",
    "HourlyPartitionsDefinition",
    "IOManager",
    "IdentityPartitionMapping",
    "In",
    "InMemoryIOManager",
    "InputContext",
    "InstigatorDefinition",
    "Jitter",
    "JobDefinition",
    "JobNode",
    "LastPartitionMapping",
    "MaterializeResult",
    "MonthlyPartitionsDefinition",
    "MultiPartitionKey",
    "MultiPartitionsDefinition",
    "MultiToSingleDimensionPartitionMapping",
    "NodeDefinition",
    "NodeInput",
    "NodeOutput",
    "OpDefinition",
    "OpExecutionContext",
    "Out",
    "Output",
    "OutputContext",
    "OutputSchemaError",
    "PartitionKeyRange",
    "PartitionMapping",
    "PartitionsDefinition",
    "Resources",
    "RetryPolicy",
    "RunConfig",
    "StaticPartitionMapping",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionMapping",
    "TimeWindowPartitionsDefinition",
    "WeeklyPartitionsDefinition",
    "asset",
    "asset_check",
    "build_asset_context",
    "build_op_context",
    "job",
    "multi_asset",
    "null_fraction_check",
    "op",
    "raystra_home",
    "row_count_check",
    "schema_drift_check",
    "step_key_for",
    "suggest",
]
