"""``raystra job list|run``: op-based jobs, listed with their ops and run like materialize."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from raystra import api
from raystra.cli._loading import AttributeOption, FileOption, ModuleOption, definitions_from
from raystra.cli._progress import run_and_report
from raystra.cli._render import output_console
from raystra.cli._run_options import (
    ConfigOption,
    ExecutorOption,
    MaxConcurrentOption,
    RayAddressOption,
    TagOption,
    load_run_config,
    parse_tags,
)
from raystra.definitions import JobDefinition

__all__ = ["app"]

app = typer.Typer(help="List and run op-based jobs.", no_args_is_help=True)


def _ops(job_def: JobDefinition) -> Text:
    parts = []
    for node in job_def.nodes:
        upstream = sorted({handle.node_name for handle in node.upstream.values()})
        name = node.name if node.name == node.op.name else f"{node.name} ({node.op.name})"
        parts.append(f"{name} <- {', '.join(upstream)}" if upstream else name)
    return Text("\n".join(parts))


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """List jobs with their ops (in run order) and what feeds each op."""
    defs = definitions_from(ctx, module, file, attribute)
    console = output_console()
    if not defs.jobs:
        console.print("No jobs are defined; assets run with `raystra materialize`.", markup=False)
        return
    table = Table(header_style="bold", show_lines=True)
    table.add_column("job")
    table.add_column("ops")
    table.add_column("description", overflow="fold")
    for name in sorted(defs.jobs):
        job_def = defs.jobs[name]
        table.add_row(Text(name), _ops(job_def), Text(job_def.description or ""))
    console.print(table)


@app.command("run")
def run_job(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The job to run.")],
    config: ConfigOption = None,
    tag: TagOption = None,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    max_concurrent: MaxConcurrentOption = None,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Run a job (on Ray by default); exits 0 on success, 1 if the run failed."""
    defs = definitions_from(ctx, module, file, attribute)
    defs.get_job(name)  # unknown job: a readable error before any output
    run_config = load_run_config(config)
    tags = parse_tags(tag)
    run_and_report(
        lambda on_event: api.execute_job(
            defs,
            name,
            run_config=run_config,
            executor=executor,
            ray_address=ray_address,
            max_concurrent=max_concurrent,
            raise_on_error=False,
            tags=tags,
            on_event=on_event,
        )
    )
