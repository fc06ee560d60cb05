"""``raystra assets list|status``: every asset with its last materialization, or its partitions'
states (missing, fresh, stale, failed)."""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from raystra import api
from raystra.cli._loading import AttributeOption, FileOption, ModuleOption, definitions_from
from raystra.cli._render import format_time, output_console, short_id
from raystra.planning import AssetSelection
from raystra.storage import open_storage

__all__ = ["app"]

app = typer.Typer(help="Inspect assets.", no_args_is_help=True)

STATES = ("missing", "fresh", "stale", "failed")
STATE_STYLES = {"missing": "yellow", "fresh": "green", "stale": "magenta", "failed": "red"}


@app.command("list")
def list_assets(
    ctx: typer.Context,
    select: Annotated[
        str | None,
        typer.Option("--select", "-s", help="Only these assets (selection syntax)."),
    ] = None,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """List assets (upstream first) with their group and last materialization."""
    defs = definitions_from(ctx, module, file, attribute)
    selection = AssetSelection.from_string(select) if select else None
    overview = api.asset_overview(defs, selection)
    console = output_console()
    if not overview:
        console.print("No assets match.")
        return
    table = Table(header_style="bold")
    table.add_column("key", overflow="fold")
    table.add_column("group")
    table.add_column("upstream", justify="right")
    table.add_column("last materialized")
    table.add_column("run")
    table.add_column("rows", justify="right")
    for asset in overview:
        key = Text(asset.key.to_user_string())
        if asset.is_external:
            key.append(" (external)", style="dim")
        last = asset.last_materialization
        rows = last.metadata.get("row_count") if last is not None else None
        when = Text("never", style="dim")
        if last is not None:
            when = Text(format_time(last.timestamp))
            if last.partition is not None:
                when.append(f" [{last.partition}]", style="dim")
        table.add_row(
            key,
            asset.group,
            str(len(asset.upstream)),
            when,
            short_id(last.run_id) if last else "-",
            str(rows) if rows is not None else "-",
        )
    console.print(table)


@app.command("status")
def asset_status(
    ctx: typer.Context,
    select: Annotated[
        str | None,
        typer.Option("--select", "-s", help="Only these assets (selection syntax)."),
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=1, help="Ranges and stale reasons shown per state."),
    ] = 3,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Missing, fresh, stale and failed partitions per asset, as ranges, with stale reasons.

    Stale: the asset's code_version changed, or an upstream partition it read was
    materialized again since. `raystra materialize --stale-only` or `raystra backfill --stale`
    runs exactly those; `raystra backfill --missing` the missing and failed ones.
    """
    defs = definitions_from(ctx, module, file, attribute)
    chosen = set(api.resolve_selection(defs, AssetSelection.from_string(select or "*")))
    keys = [key for key in defs.topological_keys if key in chosen]
    with closing(open_storage()) as store:
        statuses = [api.asset_partition_status(defs, key, store) for key in keys]
    table = Table(header_style="bold")
    table.add_column("asset", overflow="fold")
    table.add_column("partitions", justify="right")
    for state in STATES:
        table.add_column(state, justify="right")
    table.add_column("details", overflow="fold")
    for status in statuses:
        counts = status.counts
        key = Text(status.asset_key.to_user_string())
        if status.asset_key in defs.asset_graph.external:
            key.append(" (external)", style="dim")
        table.add_row(
            key,
            "-" if status.partitions_def is None else str(sum(counts.values())),
            *(Text(str(counts[s]), style=STATE_STYLES[s] if counts[s] else "dim") for s in STATES),
            _details(status, limit),
        )
    output_console().print(table)


def _details(status: api.AssetPartitionStatus, limit: int) -> Text:
    """Which partitions are missing, stale or failed, as ranges; why the stale ones are stale."""
    text = Text()
    if status.partitions_def is None:
        state = next(s for s in STATES if status.keys.get(s))
        text.append(state, style=STATE_STYLES[state])
        reasons = status.stale_because.get(None)
        if reasons:
            text.append(f" because of: {', '.join(reasons[:limit])}")
        return text
    if not status.all_keys:
        return Text("no partitions yet", style="dim")
    lines: list[Text] = []
    for state in ("missing", "stale", "failed"):
        ranges = status.ranges(state)
        if not ranges:
            continue
        parts = [first if first == last else f"{first}...{last}" for first, last in ranges]
        shown = ", ".join(parts[:limit])
        if len(parts) > limit:
            shown += f" (+{len(parts) - limit} more)"
        lines.append(Text(f"{state}: ", style=STATE_STYLES[state]) + Text(shown))
    for partition, reasons in list(status.stale_because.items())[:limit]:
        why = ", ".join(reasons[:limit])
        lines.append(Text(f"  {partition} stale because of: {why}", style="dim"))
    return Text("\n").join(lines)
