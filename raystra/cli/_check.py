"""``raystra check``: load and validate the definitions, plan everything, print counts."""

from __future__ import annotations

import typer
from rich.text import Text

from raystra.cli._loading import (
    AttributeOption,
    DefinitionsTarget,
    FileOption,
    ModuleOption,
    find_definitions,
    load_definitions,
)
from raystra.cli._render import output_console
from raystra.planning import build_asset_plan, build_job_plan

__all__ = ["check"]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def check(
    ctx: typer.Context,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Load and validate your definitions; exit 0 when they are fine, 2 otherwise."""
    base = ctx.obj if isinstance(ctx.obj, DefinitionsTarget) else DefinitionsTarget()
    target = find_definitions(base.overridden_by(module, file, attribute))
    defs = load_definitions(target)
    # Planning everything catches what only shows up in plans, before any run needs it.
    materializable = defs.asset_graph.materializable_keys
    if materializable:
        build_asset_plan(defs, materializable)
    for job_def in defs.jobs.values():
        build_job_plan(defs, job_def)
    graph = defs.asset_graph
    external = len(graph.external)
    assets = _plural(len(graph.keys), "asset") + (f" ({external} external)" if external else "")
    groups = _plural(len({graph.group_of(key) for key in graph.keys}), "group")
    jobs = _plural(len(defs.jobs), "job")
    resources = _plural(len(defs.resources), "resource")
    console = output_console()
    console.print(Text(f"Loaded {target.describe()} (from {target.source}).", style="dim"))
    line = Text("Definitions OK: ", style="green")
    line.append(f"{assets}, {groups}, {jobs}, {resources}.", style="")
    console.print(line)
