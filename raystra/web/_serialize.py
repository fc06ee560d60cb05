"""Turning raystra records into the JSON the API sends.

Values from user definitions (metadata, resource fields) pass through `json_safe`, which
never sends an `EnvVar`'s value: only ``{"env_var": NAME}``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from raystra.definitions import AssetKey, EnvVar
from raystra.definitions._partitions import (
    DynamicPartitionsDefinition,
    MultiPartitionsDefinition,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)
from raystra.events import ErrorInfo
from raystra.storage import MaterializationRecord, RunRecord

__all__ = [
    "error_json",
    "json_safe",
    "key_string",
    "materialization_json",
    "partitions_def_json",
    "run_json",
    "step_node",
    "step_partition",
]


def key_string(key: AssetKey) -> str:
    """``raw/orders``: how asset keys appear in the API and its paths."""
    return key.to_user_string()


def json_safe(value: Any, *, depth: int = 0) -> Any:
    """``value`` as JSON-able data; an `EnvVar` becomes ``{"env_var": NAME}``, never its value.

    Example:
        >>> json_safe({"token": EnvVar("DW_TOKEN"), "n": 3})
        {'token': {'env_var': 'DW_TOKEN'}, 'n': 3}
    """
    if isinstance(value, EnvVar):
        return {"env_var": value.env_var_name}
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth > 20:
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v, depth=depth + 1) for v in value]
    if isinstance(value, AssetKey):
        return key_string(value)
    return repr(value)


def partitions_def_json(
    definition: PartitionsDefinition | None, *, count: int | None = None
) -> dict[str, Any] | None:
    """``{"kind", "description"}`` (and ``count`` when known) of a partitions definition."""
    if definition is None:
        return None
    if isinstance(definition, TimeWindowPartitionsDefinition):
        kind = "time_window"
    elif isinstance(definition, StaticPartitionsDefinition):
        kind = "static"
    elif isinstance(definition, DynamicPartitionsDefinition):
        kind = "dynamic"
    elif isinstance(definition, MultiPartitionsDefinition):
        kind = "multi"
    else:
        kind = type(definition).__name__
    described: dict[str, Any] = {"kind": kind, "description": str(definition)}
    if count is not None:
        described["count"] = count
    return described


def step_partition(step_key: str) -> str | None:
    """The partition (or ``first...last`` range) a step key names: ``orders[2024-03-01]``."""
    _node, bracket, rest = step_key.partition("[")
    return rest[:-1] if bracket and rest.endswith("]") else None


def step_node(step_key: str) -> str:
    """The node part of a step key (``orders`` of ``orders[2024-03-01]``)."""
    return step_key.partition("[")[0]


def error_json(error: ErrorInfo | None) -> dict[str, Any] | None:
    """A step or run error with its full traceback."""
    if error is None:
        return None
    return {"type": error.type_name, "message": error.message, "traceback": error.traceback}


def materialization_json(record: MaterializationRecord) -> dict[str, Any]:
    """One materialization: run, partition, time, code version and metadata (rows, path...)."""
    return {
        "run_id": record.run_id,
        "step_key": record.step_key,
        "partition": record.partition,
        "timestamp": record.timestamp,
        "code_version": record.code_version,
        "metadata": json_safe(record.metadata),
    }


def run_json(run: RunRecord, *, trace_url: str | None = None) -> dict[str, Any]:
    """A run's record: status, times, what it targets, lineage of re-executions, trace."""
    fields = dataclasses.asdict(run)
    fields["status"] = run.status.value
    fields["selection"] = list(run.selection)
    fields["tags"] = dict(run.tags)
    fields["run_config"] = json_safe(run.run_config)
    fields["trace_id"] = run.trace_id
    fields["trace_url"] = trace_url
    fields["backfill_id"] = run.tags.get("raystra/backfill")
    partitions = {p for p in map(step_partition, run.selection) if p is not None}
    fields["partition"] = next(iter(partitions)) if len(partitions) == 1 else None
    fields["duration_s"] = (
        run.ended_at - run.started_at
        if run.ended_at is not None and run.started_at is not None
        else None
    )
    return fields
