"""``raystra runs list|show|logs``: what ran, how it went, and what the steps said."""

from __future__ import annotations

import enum
import json
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from raystra import api
from raystra.cli._progress import one_line
from raystra.cli._render import (
    format_duration,
    format_time,
    output_console,
    short_id,
    status_text,
)
from raystra.errors import RaystraError
from raystra.events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    LogMessage,
    RunFailed,
    StepRetrying,
)

__all__ = ["app"]

app = typer.Typer(help="Inspect recorded runs.", no_args_is_help=True)

RunArgument = Annotated[
    str, typer.Argument(metavar="RUN", help="Run id or its first characters (from runs list).")
]


class LogSource(enum.StrEnum):
    """Where a captured log line came from."""

    log = "log"
    stdout = "stdout"
    stderr = "stderr"


def _target(run: api.RunRecord, *, limit: int = 3) -> str:
    if run.job_name:
        text = f"job {run.job_name}"
    else:
        shown = ", ".join(run.selection[:limit])
        more = f" +{len(run.selection) - limit} more" if len(run.selection) > limit else ""
        text = (shown + more) or "(no steps)"
    if run.parent_run_id:
        text += f" (re-run of {short_id(run.parent_run_id)})"
    return text


def _duration(run: api.RunRecord) -> str:
    if run.started_at is None:
        return "-"
    if run.ended_at is None:
        return "running" if not run.status.is_finished else "-"
    return format_duration(run.ended_at - run.started_at)


@app.command("list")
def list_runs(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 20,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only runs with this status, e.g. FAILURE or success."),
    ] = None,
) -> None:
    """List recent runs, newest first."""
    runs = api.list_runs(limit=limit, status=status)
    console = output_console()
    if not runs:
        which = f" with status {status.upper()}" if status else ""
        console.print(f"No runs{which} yet. Start one with `raystra materialize`.", markup=False)
        return
    table = Table(header_style="bold")
    table.add_column("run id")
    table.add_column("status")
    table.add_column("target", overflow="fold")
    table.add_column("started")
    table.add_column("duration", justify="right")
    for run in runs:
        table.add_row(
            short_id(run.run_id),
            status_text(run.status.value),
            Text(_target(run)),
            format_time(run.started_at or run.created_at),
            _duration(run),
        )
    console.print(table)


@app.command("show")
def show_run(run_id: RunArgument) -> None:
    """Show a run: header, steps, and the error and traceback of every failed step."""
    run = api.get_run(run_id)
    console = output_console()
    _print_header(console, run)
    stats = {s.step_key: s for s in api.run_steps(run.run_id)}
    order = [*run.selection, *(key for key in stats if key not in run.selection)]
    table = Table(header_style="bold", title="Steps", title_justify="left")
    for column in ("step", "status", "attempts", "started", "duration"):
        table.add_column(column, overflow="fold")
    for key in order:
        step = stats.get(key)
        if step is None:
            table.add_row(Text(key), status_text("NOT_STARTED"), "-", "-", "-")
            continue
        table.add_row(
            Text(key),
            status_text(step.status),
            str(step.attempts or "-"),
            format_time(step.start_time),
            format_duration(step.duration_s),
        )
    console.print(table)
    _print_materializations(console, run)
    _print_checks(console, run)
    _print_problems(console, run, list(stats.values()))


def _trace_line(trace_id: str) -> str:
    """The trace id, and its page in the tracing backend when ``RAYSTRA_TRACE_URL`` is set.

    ``RAYSTRA_TRACE_URL`` is a template with ``{trace_id}``, for example
    ``http://localhost:16686/trace/{trace_id}`` for Jaeger.
    """
    template = os.environ.get("RAYSTRA_TRACE_URL", "")
    if "{trace_id}" not in template:
        return trace_id
    return f"{trace_id}  {template.replace('{trace_id}', trace_id)}"


def _print_header(console: Console, run: api.RunRecord) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Run", run.run_id)
    grid.add_row("Status", status_text(run.status.value))
    grid.add_row("Target", Text(_target(run, limit=10)))
    if run.parent_run_id:
        grid.add_row("Parent run", run.parent_run_id)
    if run.root_run_id and run.root_run_id != run.parent_run_id:
        grid.add_row("Root run", run.root_run_id)
    grid.add_row("Executor", run.executor)
    grid.add_row("Created", format_time(run.created_at))
    grid.add_row("Started", format_time(run.started_at))
    grid.add_row("Ended", format_time(run.ended_at))
    grid.add_row("Duration", _duration(run))
    if run.tags:
        grid.add_row("Tags", Text(", ".join(f"{k}={v}" for k, v in sorted(run.tags.items()))))
    if run.trace_id:
        grid.add_row("Trace", Text(_trace_line(run.trace_id)))
    ops = dict(run.run_config).get("ops") or {}
    config = json.dumps(dict(run.run_config), indent=2, default=str) if ops else "(none)"
    grid.add_row("Run config", Text(config))
    console.print(grid)
    console.print()


def _print_materializations(console: Console, run: api.RunRecord) -> None:
    events = api.run_events(run.run_id, kinds=[AssetMaterialized.kind])
    parts: list[str] = []
    for event in events:
        assert isinstance(event, AssetMaterialized)
        text = event.asset_key.to_user_string()
        if event.partition is not None:
            text += f"[{event.partition}]"
        rows = event.metadata.get("row_count")
        parts.append(f"{text} ({rows} rows)" if rows is not None else text)
    if parts:
        console.print(Text("Materialized: ", style="bold") + Text(", ".join(parts)))


def _print_checks(console: Console, run: api.RunRecord) -> None:
    """The run's asset check results: one row per check and partition."""
    events = api.run_events(run.run_id, kinds=[AssetCheckEvaluated.kind])
    if not events:
        return
    table = Table(header_style="bold", title="Asset checks", title_justify="left")
    for column in ("check", "partition", "result", "severity", "details"):
        table.add_column(column, overflow="fold")
    for event in events:
        assert isinstance(event, AssetCheckEvaluated)
        if event.passed:
            result = Text("passed", style="green")
        else:
            style = "red" if event.severity == "ERROR" else "yellow"
            result = Text("blocked" if event.blocks else "failed", style=style)
        details = Text(event.description or "")
        if event.metadata:
            shown = ", ".join(f"{k}={v}" for k, v in list(event.metadata.items())[:4])
            details.append(f" ({shown})" if details.plain else shown, style="dim")
        table.add_row(
            Text(f"{event.asset_key.to_user_string()}:{event.check_name}"),
            event.partition or "-",
            result,
            event.severity + (" blocking" if event.blocking else ""),
            details,
        )
    console.print(table)


def _print_problems(console: Console, run: api.RunRecord, stats: list[api.StepStats]) -> None:
    for event in api.run_events(run.run_id, kinds=[StepRetrying.kind]):
        assert isinstance(event, StepRetrying)
        console.print(
            Text(
                f"Step {event.step_key!r} attempt {event.attempt} failed and was retried: "
                f"{one_line(event.error)}",
                style="yellow",
            )
        )
    for step in stats:
        if step.status == "SKIPPED":
            console.print(
                Text(f"Step {step.step_key!r} skipped: {step.skip_reason or 'no reason'}")
            )
    for step in stats:
        if step.status == "FAILURE" and step.error is not None:
            console.print()
            console.print(
                Text(
                    f"Step {step.step_key!r} failed after {step.attempts} attempt(s): "
                    f"{one_line(step.error)}",
                    style="bold red",
                )
            )
            console.print(Text(step.error.traceback.rstrip()))
    for event in api.run_events(run.run_id, kinds=[RunFailed.kind]):
        assert isinstance(event, RunFailed)
        if event.error is not None:
            console.print()
            console.print(Text(f"The run failed: {event.reason}", style="bold red"))
            console.print(Text(event.error.traceback.rstrip()))


def _log_record(event: LogMessage) -> dict[str, object]:
    """A log line as a JSON-able record (trace ids only when the run was traced)."""
    record: dict[str, object] = {
        "timestamp": event.timestamp,
        "run_id": event.run_id,
        "step_key": event.step_key,
        "level": event.level,
        "source": event.source,
        "message": event.message,
    }
    if event.trace_id:
        record["trace_id"] = event.trace_id
        record["span_id"] = event.span_id
    return record


_LEVEL_STYLES = {"DEBUG": "dim", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


@app.command("logs")
def run_logs(
    run_id: RunArgument,
    step: Annotated[str | None, typer.Option("--step", help="Only this step's lines.")] = None,
    source: Annotated[
        LogSource | None,
        typer.Option("--source", help="Only lines from context.log, stdout or stderr."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON object per line, with trace_id/span_id when traced."),
    ] = False,
) -> None:
    """Print the log lines a run's steps captured: context.log, stdout and stderr."""
    run = api.get_run(run_id)
    if step is not None and step not in run.selection:
        steps = ", ".join(run.selection) or "none"
        raise RaystraError(f"Run {short_id(run.run_id)} has no step {step!r}; its steps: {steps}.")
    events = api.run_events(run.run_id, step_key=step, kinds=[LogMessage.kind])
    lines = [e for e in events if isinstance(e, LogMessage)]
    if source is not None:
        lines = [e for e in lines if e.source == source.value]
    if as_json:
        for event in lines:
            typer.echo(json.dumps(_log_record(event)))
        return
    console = output_console()
    if not lines:
        which = f" for step {step!r}" if step else ""
        console.print(f"Run {short_id(run.run_id)} captured no log lines{which}.", markup=False)
        return
    step_width = max(len(e.step_key or "-") for e in lines)
    for event in lines:
        line = Text(f"{format_time(event.timestamp)}  ", style="dim")
        line.append(f"{(event.step_key or '-'):<{step_width}}  ", style="cyan")
        line.append(f"{event.level:<8}", style=_LEVEL_STYLES.get(event.level, ""))
        line.append(f"{event.source:<7}", style="dim")
        line.append(event.message)
        console.print(line)
