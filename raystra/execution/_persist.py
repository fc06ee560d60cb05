"""Committing a step's outputs through their IO managers, and the events that record it.

Used by the step runner for outputs written where they were computed, and by executors that
write large outputs beside downstream work (the Ray executor's persist task).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from typing import Any

from raystra.definitions import (
    Definitions,
    IOManager,
    OutputContext,
    Resources,
)
from raystra.definitions._node import NodeDefinition
from raystra.events import AssetMaterialized, Event, OpOutputStored, data_version
from raystra.execution._io import resolve_resources
from raystra.execution._outputs import NO_VALUE
from raystra.observability import SpanRecorder, StepLogCapture
from raystra.observability import _attributes as attrs
from raystra.planning import Step, node_for_step

__all__ = [
    "LOAD_FROM_STORAGE",
    "handed_over",
    "has_value",
    "persist_outputs",
    "store_output",
    "store_output_partitions",
]


class _Handoff(enum.Enum):
    # An enum member keeps its identity through pickling (Ray's object store).
    LOAD_FROM_STORAGE = "load-from-storage"


LOAD_FROM_STORAGE = _Handoff.LOAD_FROM_STORAGE


def handed_over(value: Any, event: Event | None) -> Any:
    """What downstream steps of the run are handed for an output just stored.

    The value itself, except when an engine (Spark, Dask) wrote it (``engine`` in the stored
    metadata): its frame is a lazy plan, not data, so consumers load it by path through the
    IO manager, in the type their annotation asks for, instead of recomputing the plan.
    """
    metadata = getattr(event, "metadata", None) or {}
    return LOAD_FROM_STORAGE if "engine" in metadata else value


def has_value(value: Any) -> bool:
    """True when there is something for an IO manager to store."""
    return value is not NO_VALUE and value is not None


def _merge_metadata(
    name: str, user: dict[str, Any], stored: Mapping[str, Any], logger: logging.Logger
) -> dict[str, Any]:
    # What the IO manager measured (path, row_count, ...) is a fact about the stored data: a
    # user value under the same key must not replace it silently.
    merged = dict(user)
    for key in sorted(set(stored) & set(merged)):
        if stored[key] != merged[key]:
            logger.warning(
                "output %r: metadata key %r is set by the IO manager; your value %r is kept as %r",
                name,
                key,
                merged[key],
                f"user/{key}",
            )
            merged[f"user/{key}"] = merged.pop(key)
    return {**merged, **stored}


def store_output(
    *,
    step: Step,
    node: NodeDefinition,
    run_id: str,
    name: str,
    value: Any,
    user_metadata: Mapping[str, Any],
    resources: Mapping[str, Any],
    logger: logging.Logger,
    partition: str | None = None,
    partition_dimensions: Mapping[str, str] | None = None,
    consumed: tuple[Mapping[str, Any], ...] = (),
    recorder: SpanRecorder | None = None,
    earlier_attempt_lost: bool = False,
) -> Event | None:
    """Commit one output (one partition of it) and return the event that records it.

    The event is created only after the IO manager returned, i.e. after the write committed.
    None means there is nothing to record.
    """
    definition = node.output(name)
    metadata = dict(user_metadata)
    if has_value(value):
        io_manager: IOManager = resources[definition.io_manager_key]
        context = OutputContext(
            run_id=run_id,
            step_key=step.key,
            output_name=name,
            asset_key=definition.asset_key,
            partition_key=partition,
            partition_dimensions=dict(partition_dimensions or {}),
            definition_metadata=definition.metadata,
            resources=Resources(dict(resources)),
            log=logger,
            earlier_attempt_lost=earlier_attempt_lost,
        )
        if recorder is None:
            stored = io_manager.handle_output(context, value) or {}
        else:
            with recorder.span(
                "raystra.io.write", **_io_attributes(definition, name, partition)
            ) as span:
                stored = io_manager.handle_output(context, value) or {}
                span.update(_written(stored))
        metadata = _merge_metadata(name, metadata, stored, logger)
    if definition.asset_key is not None:
        return AssetMaterialized(
            run_id=run_id,
            step_key=step.key,
            asset_key=definition.asset_key,
            partition=partition,
            metadata=metadata,
            code_version=definition.code_version,
            data_version=data_version(
                definition.asset_key.to_user_string(), partition, run_id, definition.code_version
            ),
            consumed=consumed,
        )
    if has_value(value):
        return OpOutputStored(run_id=run_id, step_key=step.key, output_name=name, metadata=metadata)
    return None


def store_output_partitions(
    *,
    step: Step,
    node: NodeDefinition,
    run_id: str,
    name: str,
    value: Any,
    user_metadata: Mapping[str, Any],
    resources: Mapping[str, Any],
    logger: logging.Logger,
    partitions: Mapping[str, Mapping[str, str]],
    consumed: Mapping[str, tuple[Mapping[str, Any], ...]],
    recorder: SpanRecorder | None = None,
) -> list[Event] | None:
    """Commit one value covering several partitions in one write; one event per partition.

    ``partitions`` maps each partition key to commit to its dimension columns, ``consumed``
    each to what it read. None when the IO manager cannot store the value that way (its
    ``handle_output_partitions`` returned None): nothing was stored then.
    """
    definition = node.output(name)
    handle = getattr(resources[definition.io_manager_key], "handle_output_partitions", None)
    if handle is None:
        return None
    contexts = [
        OutputContext(
            run_id=run_id,
            step_key=step.key,
            output_name=name,
            asset_key=definition.asset_key,
            partition_key=key,
            partition_dimensions=dict(dimensions),
            definition_metadata=definition.metadata,
            resources=Resources(dict(resources)),
            log=logger,
        )
        for key, dimensions in partitions.items()
    ]
    if recorder is None:
        stored = handle(contexts, value)
    else:
        with recorder.span("raystra.io.write", **_io_attributes(definition, name, None)):
            stored = handle(contexts, value)
    if stored is None:
        return None
    events: list[Event] = []
    for key, metadata in zip(partitions, stored, strict=True):
        # The value is committed: only its event is left to make.
        event = store_output(
            step=step,
            node=node,
            run_id=run_id,
            name=name,
            value=NO_VALUE,
            user_metadata=_merge_metadata(name, dict(user_metadata), metadata or {}, logger),
            resources=resources,
            logger=logger,
            partition=key,
            consumed=consumed.get(key, ()),
        )
        if event is not None:
            events.append(event)
    return events


def _io_attributes(definition: Any, name: str, partition: str | None) -> dict[str, Any]:
    attributes = {attrs.IO_OUTPUT: name, attrs.IO_MANAGER: definition.io_manager_key}
    if definition.asset_key is not None:
        attributes[attrs.ASSET_KEY] = definition.asset_key.to_user_string()
    if partition is not None:
        attributes[attrs.PARTITION_KEY] = partition
    return attributes


def _written(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Span attributes from what the IO manager reported about a write."""
    found = {
        attrs.IO_PATH: stored.get("path"),
        attrs.IO_ROWS: stored.get("row_count"),
        attrs.IO_BYTES: stored.get("byte_size"),
    }
    return {key: value for key, value in found.items() if isinstance(value, str | int)}


def persist_outputs(
    definitions: Definitions,
    step: Step,
    *,
    run_id: str,
    values: Mapping[str, Any],
    user_metadata: Mapping[str, Mapping[str, Any]],
    capture: StepLogCapture,
    recorder: SpanRecorder | None = None,
    earlier_attempt_lost: bool = False,
) -> list[Event]:
    """Commit outputs computed elsewhere, resolving IO manager resources here, where it runs.

    Any exception propagates: the caller records the step as failed, and no event is returned
    for an output whose write did not commit. Log lines (and their secrets) go to ``capture``.
    """
    node = node_for_step(definitions, step)
    keys = {node.output(name).io_manager_key for name in values}
    resources, secrets = resolve_resources(definitions, keys)
    capture.add_secrets(secrets)
    events: list[Event] = []
    for name, value in values.items():
        event = store_output(
            step=step,
            node=node,
            run_id=run_id,
            name=name,
            value=value,
            user_metadata=user_metadata.get(name, {}),
            resources=resources,
            logger=capture.logger,
            recorder=recorder,
            earlier_attempt_lost=earlier_attempt_lost,
        )
        if event is not None:
            events.append(event)
    return events
