"""Handing upstream values to a step: whole outputs, or the partitions each input reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from raystra.execution._persist import LOAD_FROM_STORAGE
from raystra.planning import Step

__all__ = ["gather_upstream"]


def gather_upstream(
    step: Step, outputs_of: Callable[[str], Mapping[str, Any] | None]
) -> tuple[dict[str, Any], list[str]]:
    """The in-memory input values of ``step``, and what blocks it (empty when it can run).

    ``outputs_of(step_key)`` gives an upstream step's outputs (None if it produced none).
    Partitioned outputs are ``{partition: value}``; a partition missing from them failed, and
    a step reading it is blocked.
    """
    values: dict[str, Any] = {}
    blocked: list[str] = []
    for step_input in step.inputs:
        if step_input.partitioned:
            parts: dict[str, Any] = {}
            for partition, producer in step_input.partitions:
                if producer is None:
                    continue
                produced = (outputs_of(producer) or {}).get(step_input.upstream_output_name, {})
                if partition in produced:
                    parts[partition] = produced[partition]
                else:
                    asset = step_input.asset_key.to_user_string() if step_input.asset_key else ""
                    blocked.append(f"partition {partition!r} of {asset!r} failed")
            values[step_input.name] = parts
        elif step_input.upstream_step_key is not None:
            outputs = outputs_of(step_input.upstream_step_key)
            if outputs is not None:
                # An output without a value (a MaterializeResult) is read from storage.
                values[step_input.name] = outputs.get(
                    step_input.upstream_output_name, LOAD_FROM_STORAGE
                )
    return values, blocked
