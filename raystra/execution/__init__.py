"""Running plans: the executor contract, the step runner, and the in-process executor.

Executors are found by name through `load_executor` from import strings, so naming one never
imports the others' engines (the Ray executor lives in ``raystra.execution.ray``, the only code
that imports ``ray``).
"""

from __future__ import annotations

import importlib
import os

from raystra.errors import RaystraError
from raystra.execution._executor import Executor, RunRequest
from raystra.execution._in_process import InProcessExecutor
from raystra.execution._io import load_io_manager_class, resolve_resources
from raystra.execution._step_runner import StepOutcome, run_step, step_events

__all__ = [
    "EXECUTORS",
    "Executor",
    "InProcessExecutor",
    "RunRequest",
    "StepOutcome",
    "default_executor_name",
    "load_executor",
    "load_io_manager_class",
    "resolve_resources",
    "run_step",
    "step_events",
]

# Import strings, so choosing an executor by name does not import every engine.
EXECUTORS: dict[str, str] = {
    "in_process": "raystra.execution._in_process:InProcessExecutor",
    "ray": "raystra.execution.ray:RayExecutor",
}


def default_executor_name() -> str:
    """``$RAYSTRA_EXECUTOR`` if set, else ``ray``."""
    return os.environ.get("RAYSTRA_EXECUTOR") or "ray"


def load_executor(
    name: str | Executor | None = None, *, ray_address: str | None = None
) -> Executor:
    """An executor instance from a name in `EXECUTORS` (default `default_executor_name`).

    ``ray_address`` is passed to the Ray executor (attach to that cluster).
    """
    if isinstance(name, Executor):
        return name
    name = name or default_executor_name()
    if name not in EXECUTORS:
        raise RaystraError(f"Unknown executor {name!r}; choose one of {sorted(EXECUTORS)}.")
    module_name, _, attr = EXECUTORS[name].partition(":")
    executor_class = getattr(importlib.import_module(module_name), attr)
    instance = executor_class(address=ray_address) if name == "ray" else executor_class()
    assert isinstance(instance, Executor)
    return instance
