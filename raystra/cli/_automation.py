"""``raystra schedule|sensor list|start|stop|preview|ticks``: manage what the daemon runs.

Start and stop are stored in run storage, so they hold across daemon restarts and the web
UI shows the same status; a definition's ``default_status`` applies until someone sets one.
Previews evaluate the function now without recording anything.
"""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from raystra.automation._instigators import (
    InstigatorSummary,
    Preview,
    find_instigator,
    instigator_summaries,
    preview_schedule,
    preview_sensor,
    set_instigator_status,
    tick_json,
)
from raystra.cli._loading import AttributeOption, FileOption, ModuleOption, definitions_from
from raystra.cli._render import format_time, output_console, short_id
from raystra.definitions import Definitions
from raystra.storage import open_storage

__all__ = ["schedule_app", "sensor_app"]

schedule_app = typer.Typer(help="List, start, stop and preview schedules.", no_args_is_help=True)
sensor_app = typer.Typer(help="List, start, stop and preview sensors.", no_args_is_help=True)

TICK_STYLES = {"success": "green", "skipped": "yellow", "failed": "red"}
NameArgument = Annotated[str, typer.Argument(help="The schedule's or sensor's name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _now() -> datetime:
    return datetime.now(UTC)


def _status_text(summary: InstigatorSummary) -> Text:
    text = Text(summary.status, style="green" if summary.status == "running" else "dim")
    if summary.status_source == "default":
        text.append(" (default)", style="dim")
    return text


def _last_tick_text(summary: InstigatorSummary) -> Text:
    tick = summary.last_tick
    if tick is None:
        return Text("never", style="dim")
    text = Text(format_time(tick.tick_at) + " ")
    text.append(tick.status, style=TICK_STYLES.get(tick.status, ""))
    if tick.run_ids:
        text.append(f" {len(tick.run_ids)} run(s)")
    return text


def _list(defs: Definitions, kind: str, *, as_json: bool) -> None:
    with closing(open_storage()) as store:
        summaries = instigator_summaries(defs, store, now=_now(), kind=kind)
    console = output_console()
    if as_json:
        console.print_json(json.dumps([s.to_json() for s in summaries]))
        return
    if not summaries:
        console.print(f"No {kind}s defined. Add them with Definitions({kind}s=[...]).")
        return
    table = Table(header_style="bold")
    table.add_column(kind)
    table.add_column("status")
    table.add_column("target", overflow="fold")
    table.add_column("cron / interval" if kind == "schedule" else "interval")
    if kind == "schedule":
        table.add_column("next tick")
    table.add_column("last tick")
    for summary in summaries:
        if kind == "schedule":
            when = f"{summary.cron_schedule} ({summary.execution_timezone})"
            nxt = summary.next_tick_at.timestamp() if summary.next_tick_at else None
            extra = [when, format_time(nxt)]
        else:
            extra = [f"{summary.minimum_interval_seconds:g}s"]
        table.add_row(
            summary.name,
            _status_text(summary),
            summary.target,
            *extra,
            _last_tick_text(summary),
        )
    console.print(table)


def _set(defs: Definitions, kind: str, name: str, *, running: bool) -> None:
    with closing(open_storage()) as store:
        summary = set_instigator_status(defs, store, name, running=running, now=_now(), kind=kind)
    line = Text(f"{kind} {summary.name}: ") + _status_text(summary)
    if summary.next_tick_at is not None:
        line.append(f", next tick {format_time(summary.next_tick_at.timestamp())}")
    if running:
        line.append(" (runs when `raystra daemon` or `raystra dev` is running)", style="dim")
    output_console().print(line)


def _ticks(
    defs: Definitions, kind: str, name: str, *, limit: int, status: list[str] | None, as_json: bool
) -> None:
    item = find_instigator(defs, name, kind=kind)
    with closing(open_storage()) as store:
        ticks = store.get_ticks(item.name, limit=limit, statuses=status or None)
    console = output_console()
    if as_json:
        console.print_json(json.dumps([tick_json(t) for t in ticks]))
        return
    if not ticks:
        console.print(f"{item.kind} {item.name} has no ticks yet.")
        return
    table = Table(header_style="bold")
    for column in ("tick", "status", "runs", "run keys", "details"):
        table.add_column(column, overflow="fold")
    for tick in ticks:
        details = tick.skip_reason or ""
        if tick.error:
            details = tick.error.strip().splitlines()[-1]
        table.add_row(
            format_time(tick.tick_at),
            Text(tick.status, style=TICK_STYLES.get(tick.status, "")),
            " ".join(short_id(r) for r in tick.run_ids) or "-",
            ", ".join(tick.run_keys) or "-",
            details,
        )
    console.print(table)


def _print_preview(preview: Preview, as_json: bool) -> None:
    console = output_console()
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "name": preview.name,
                    "kind": preview.kind,
                    "evaluated_at": preview.evaluated_at.isoformat(),
                    "runs": [
                        {**run, "run_key": key}
                        for run, key in zip(preview.runs, preview.run_keys, strict=True)
                    ],
                    "already_launched": preview.already_launched,
                    "skip_reason": preview.skip_reason,
                    "cursor": preview.cursor,
                    "dynamic_partitions": preview.dynamic_partitions,
                    "next_ticks": [t.isoformat() for t in preview.next_ticks],
                }
            )
        )
        return
    if preview.next_ticks:
        console.print("Next ticks:")
        for tick in preview.next_ticks:
            console.print(f"  {format_time(tick.timestamp())}  ({tick.isoformat()})")
        console.print(f"The tick at {format_time(preview.evaluated_at.timestamp())} would:")
    if preview.skip_reason is not None and not preview.runs:
        console.print(Text(f"  skip: {preview.skip_reason}", style="yellow"))
    for name, keys in preview.dynamic_partitions.items():
        console.print(f"  add {len(keys)} partition(s) to {name!r}: {', '.join(keys)}")
    for run, key in zip(preview.runs, preview.run_keys, strict=True):
        what = f"job {run['job']}" if run["job"] else ", ".join(run["selection"])
        line = Text(f"  launch {what}")
        if run["partition_key"] is not None:
            line.append(f" [{run['partition_key']}]")
        if key is not None:
            line.append(f"  run key {key}", style="dim")
        if key in preview.already_launched:
            line.append("  (already launched: the daemon skips it)", style="yellow")
        console.print(line)
    if preview.kind == "sensor":
        console.print(Text(f"  cursor after: {preview.cursor!r}", style="dim"))
    console.print(Text("Nothing was recorded or launched.", style="dim"))


# -- schedule ---------------------------------------------------------------------------------


@schedule_app.command("list")
def list_schedules(
    ctx: typer.Context,
    as_json: JsonOption = False,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Schedules with their status, cron, next tick and last tick."""
    _list(definitions_from(ctx, module, file, attribute), "schedule", as_json=as_json)


@schedule_app.command("start")
def start_schedule(
    ctx: typer.Context,
    name: NameArgument,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Start a schedule from now (ticks missed while it was stopped are not run)."""
    _set(definitions_from(ctx, module, file, attribute), "schedule", name, running=True)


@schedule_app.command("stop")
def stop_schedule(
    ctx: typer.Context,
    name: NameArgument,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Stop a schedule; runs it launched keep going."""
    _set(definitions_from(ctx, module, file, attribute), "schedule", name, running=False)


@schedule_app.command("preview")
def preview_schedule_command(
    ctx: typer.Context,
    name: NameArgument,
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Ticks to list.")] = 5,
    as_json: JsonOption = False,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """The next ticks, and what the next one would launch (evaluated now, nothing recorded)."""
    defs = definitions_from(ctx, module, file, attribute)
    with closing(open_storage()) as store:
        preview = preview_schedule(defs, store, name, now=_now(), count=count)
    _print_preview(preview, as_json)


@schedule_app.command("ticks")
def schedule_ticks(
    ctx: typer.Context,
    name: NameArgument,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest ticks shown.")] = 20,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only ticks with this status (success, skipped, failed)."),
    ] = None,
    as_json: JsonOption = False,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """A schedule's recorded ticks, newest first: runs launched, skip reasons, errors."""
    defs = definitions_from(ctx, module, file, attribute)
    _ticks(defs, "schedule", name, limit=limit, status=status, as_json=as_json)


# -- sensor -----------------------------------------------------------------------------------


@sensor_app.command("list")
def list_sensors(
    ctx: typer.Context,
    as_json: JsonOption = False,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Sensors with their status, minimum interval and last tick."""
    _list(definitions_from(ctx, module, file, attribute), "sensor", as_json=as_json)


@sensor_app.command("start")
def start_sensor(
    ctx: typer.Context,
    name: NameArgument,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Start a sensor; it resumes from its stored cursor."""
    _set(definitions_from(ctx, module, file, attribute), "sensor", name, running=True)


@sensor_app.command("stop")
def stop_sensor(
    ctx: typer.Context,
    name: NameArgument,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Stop a sensor; its cursor is kept for when it starts again."""
    _set(definitions_from(ctx, module, file, attribute), "sensor", name, running=False)


@sensor_app.command("preview")
def preview_sensor_command(
    ctx: typer.Context,
    name: NameArgument,
    cursor: Annotated[
        str | None,
        typer.Option("--cursor", help="Evaluate from this cursor instead of the stored one."),
    ] = None,
    as_json: JsonOption = False,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Evaluate a sensor now from its stored cursor: what it would launch. Nothing is recorded."""
    defs = definitions_from(ctx, module, file, attribute)
    with closing(open_storage()) as store:
        preview = preview_sensor(defs, store, name, now=_now(), cursor=cursor)
    _print_preview(preview, as_json)


@sensor_app.command("ticks")
def sensor_ticks(
    ctx: typer.Context,
    name: NameArgument,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest ticks shown.")] = 20,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only ticks with this status (success, skipped, failed)."),
    ] = None,
    as_json: JsonOption = False,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """A sensor's recorded ticks, newest first: runs launched, skip reasons, errors, cursors."""
    defs = definitions_from(ctx, module, file, attribute)
    _ticks(defs, "sensor", name, limit=limit, status=status, as_json=as_json)
