"""Interpreting what a compute function returned: values, `Output`s and `MaterializeResult`s."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions import MaterializeResult, Output
from raystra.definitions._node import NodeDefinition
from raystra.errors import RaystraError

__all__ = ["NO_VALUE", "StepOutput", "collect_outputs"]

NO_VALUE: Any = object()  # the output has metadata but nothing for the IO manager to store


@dataclass
class StepOutput:
    """One output of a finished compute: its value (or NO_VALUE) and user metadata."""

    name: str
    value: Any
    metadata: dict[str, Any] = field(default_factory=dict)


def _unwrap(name: str, item: Any) -> StepOutput:
    if isinstance(item, MaterializeResult):
        value = item.value if item.has_value else NO_VALUE
        return StepOutput(name, value, dict(item.metadata))
    if isinstance(item, Output):
        return StepOutput(name, item.value, dict(item.metadata))
    return StepOutput(name, item)


def _name_of(node: NodeDefinition, item: Any) -> str | None:
    if isinstance(item, Output):
        return item.output_name
    if isinstance(item, MaterializeResult) and item.asset_key is not None:
        for output in node.outputs:
            if output.asset_key == item.asset_key:
                return output.name
        raise RaystraError(
            f"{node.name!r} returned MaterializeResult(asset_key={item.asset_key!r}), which is "
            f"not one of its outputs ({[o.asset_key for o in node.outputs]})."
        )
    return None


def collect_outputs(node: NodeDefinition, result: Any) -> dict[str, StepOutput]:
    """Map a compute function's return value onto the node's named outputs."""
    names = [output.name for output in node.outputs]
    if inspect.isgenerator(result):
        result = list(result)
        if len(names) == 1 and len(result) == 1:
            return {names[0]: _unwrap(names[0], result[0])}
        return _from_named_items(node, result)
    if len(names) == 1:
        return {names[0]: _unwrap(names[0], result)}
    if isinstance(result, tuple | list) and len(result) == len(names):
        if all(_name_of(node, item) is not None for item in result):
            return _from_named_items(node, list(result))
        return {name: _unwrap(name, item) for name, item in zip(names, result, strict=True)}
    if isinstance(result, Mapping) and set(result) == set(names):
        return {name: _unwrap(name, result[name]) for name in names}
    raise RaystraError(
        f"{node.kind.capitalize()} {node.name!r} has outputs {names} but returned "
        f"{type(result).__name__}. Return a tuple with one value per output, in that order, or "
        "yield Output(value, output_name=...) for each."
    )


def _from_named_items(node: NodeDefinition, items: list[Any]) -> dict[str, StepOutput]:
    names = [output.name for output in node.outputs]
    collected: dict[str, StepOutput] = {}
    for item in items:
        name = _name_of(node, item)
        if name is None or name not in names:
            raise RaystraError(
                f"{node.name!r} yielded {item!r}, which names no output; its outputs are "
                f"{names}. Yield Output(value, output_name=...) or "
                "MaterializeResult(asset_key=...)."
            )
        collected[name] = _unwrap(name, item)
    missing = [name for name in names if name not in collected]
    if missing:
        raise RaystraError(
            f"{node.name!r} finished without producing outputs {missing}. Return or yield a "
            "value for every output."
        )
    return collected
