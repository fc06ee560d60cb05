"""``raystra assets list``: every asset with its group, upstream count and last materialization."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from raystra import api
from raystra.cli._loading import AttributeOption, FileOption, ModuleOption, definitions_from
from raystra.cli._render import format_time, output_console, short_id
from raystra.planning import AssetSelection

__all__ = ["app"]

app = typer.Typer(help="Inspect assets.", no_args_is_help=True)


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
