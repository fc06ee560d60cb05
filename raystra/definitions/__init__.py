"""Declaring what a project produces: assets, ops, jobs, resources, config and Definitions."""

from raystra.definitions._asset import (
    AssetIn,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    asset,
    multi_asset,
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
from raystra.definitions._graph import AssetGraph
from raystra.definitions._home import raystra_home
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
from raystra.definitions._results import MaterializeResult, Output
from raystra.definitions._retry import Backoff, Jitter, RetryPolicy

__all__ = [
    "AssetExecutionContext",
    "AssetGraph",
    "AssetIn",
    "AssetKey",
    "AssetOut",
    "AssetSpec",
    "AssetsDefinition",
    "Backoff",
    "CoercibleToAssetKey",
    "Config",
    "ConfigurableIOManager",
    "ConfigurableResource",
    "Definitions",
    "EnvVar",
    "IOManager",
    "In",
    "InMemoryIOManager",
    "InputContext",
    "Jitter",
    "JobDefinition",
    "JobNode",
    "MaterializeResult",
    "NodeDefinition",
    "NodeInput",
    "NodeOutput",
    "OpDefinition",
    "OpExecutionContext",
    "Out",
    "Output",
    "OutputContext",
    "Resources",
    "RetryPolicy",
    "RunConfig",
    "asset",
    "build_asset_context",
    "build_op_context",
    "job",
    "multi_asset",
    "op",
    "raystra_home",
    "step_key_for",
    "suggest",
]
