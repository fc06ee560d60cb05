"""Validate run config against the `Config` classes of the steps in a plan, before running."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from raystra.definitions import Definitions, RunConfig, suggest
from raystra.definitions._node import NodeDefinition
from raystra.errors import RunConfigError
from raystra.planning._plan import ExecutionPlan, Step

__all__ = ["node_for_step", "validate_run_config"]


def node_for_step(defs: Definitions, step: Step) -> NodeDefinition:
    """The asset or op definition a step runs."""
    if step.kind == "op":
        assert step.job_name is not None
        return defs.get_job(step.job_name).node(step.key).op
    return defs.get_node_by_step_key(step.node_step_key)


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validate_run_config(
    defs: Definitions, plan: ExecutionPlan, run_config: RunConfig | Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Check ``run_config`` and return each step's validated config as a JSON-able dict.

    Entries under ``ops`` are matched by step key (``raw/orders``) or by function name. Every
    problem is reported at once, each with its field path (``ops.clean.config.min_amount``).

    Example:
        >>> validate_run_config(Definitions(), ExecutionPlan(steps=()), None)
        {}
    """
    if isinstance(run_config, RunConfig):
        run_config = run_config.to_dict()
    raw = dict(run_config or {})
    errors: list[tuple[str, str]] = []
    unknown_top = sorted(set(raw) - {"ops"})
    for name in unknown_top:
        errors.append((name, "unknown top-level key; run config has one section, 'ops'"))
    ops = raw.get("ops") or {}
    if not isinstance(ops, Mapping):
        errors.append(
            ("ops", f"must be a mapping of step name to config, got {type(ops).__name__}")
        )
        ops = {}

    by_name: dict[str, str] = {}
    # Config is per asset function or op: every partition step of a node shares it.
    for step in plan.steps:
        if step.checked_asset is not None:
            continue
        by_name[step.node_step_key] = step.node_step_key
        by_name.setdefault(step.node_name, step.node_step_key)
    given: dict[str, Any] = {}
    for name, entry in ops.items():
        step_key = by_name.get(name)
        if step_key is None:
            errors.append(
                (f"ops.{name}", "no step of this run has that name." + suggest(name, by_name))
            )
            continue
        given[step_key] = (name, entry)

    validated: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for step in plan.steps:
        if step.node_step_key in seen or step.checked_asset is not None:
            continue  # config is per node; checks take none
        seen.add(step.node_step_key)
        node = node_for_step(defs, step)
        config_type = node.roles.config_type
        name, entry = given.get(step.node_step_key, (step.node_name, None))
        if config_type is None:
            if entry is not None:
                errors.append(
                    (f"ops.{name}", "this step takes no config (it has no Config parameter)")
                )
            continue
        if entry is None:
            values: Any = {}
        elif hasattr(entry, "model_dump"):
            values = entry.model_dump(mode="json")
        elif isinstance(entry, Mapping) and set(entry) <= {"config"}:
            values = entry.get("config") or {}
        else:
            errors.append((f"ops.{name}", "expected {'config': {...}} or a Config instance"))
            continue
        try:
            validated[step.node_step_key] = config_type.model_validate(values).model_dump(
                mode="json"
            )
        except ValidationError as exc:
            for err in exc.errors():
                loc = _format_loc(("ops", name, "config", *err["loc"]))
                got = f" (got {err['input']!r})" if err["type"] != "missing" else ""
                errors.append((loc, f"{err['msg']}{got}"))
    if errors:
        lines = "\n".join(f"  {path}: {message}" for path, message in errors)
        raise RunConfigError(f"Run config is invalid:\n{lines}", errors)
    return validated
