"""``raystra assets list|status``: every asset with its last materialization, or its partitions'
states (missing, fresh, stale, failed), its latest asset check results and its freshness."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from raystra import api
from raystra.automation import AssetFreshness, asset_freshness
from raystra.cli._loading import AttributeOption, FileOption, ModuleOption, definitions_from
from raystra.cli._render import format_time, output_console, short_id
from raystra.definitions import AssetKey, Definitions
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
    """Missing, fresh, stale and failed partitions per asset, as ranges, with stale reasons;
    the latest result of each asset check; and freshness against each asset's policy.

    Stale: the asset's code_version changed, or an upstream partition it read was
    materialized again since. `raystra materialize --stale-only` or `raystra backfill --stale`
    runs exactly those; `raystra backfill --missing` the missing and failed ones. A check
    fails when its latest result for any partition failed; an asset is overdue when its
    newest data is older than its freshness policy allows.
    """
    defs = definitions_from(ctx, module, file, attribute)
    chosen = set(api.resolve_selection(defs, AssetSelection.from_string(select or "*")))
    keys = [key for key in defs.topological_keys if key in chosen]
    with closing(open_storage()) as store:
        statuses = [api.asset_partition_status(defs, key, store) for key in keys]
        checked = [key for key in keys if defs.checks_for(key)]
        results = store.latest_check_results(checked) if checked else {}
        freshness = {
            f.asset_key: f for f in asset_freshness(defs, store, now=datetime.now(UTC), keys=keys)
        }
    table = Table(header_style="bold")
    table.add_column("asset", overflow="fold")
    table.add_column("partitions", justify="right")
    for state in STATES:
        table.add_column(state, justify="right")
    if checked:
        table.add_column("checks")
    if freshness:
        table.add_column("freshness")
    table.add_column("details", overflow="fold")
    for status in statuses:
        counts = status.counts
        key = Text(status.asset_key.to_user_string())
        if status.asset_key in defs.asset_graph.external:
            key.append(" (external)", style="dim")
        asset_key = status.asset_key
        summary = _CheckSummary(defs, asset_key, results.get(asset_key, []))
        extra = [summary.cell()] if checked else []
        if freshness:
            extra.append(_freshness_cell(freshness.get(asset_key)))
        details = [_details(status, limit), *summary.lines(limit)]
        if asset_key in freshness and freshness[asset_key].overdue:
            details.append(_overdue_line(freshness[asset_key]))
        table.add_row(
            key,
            "-" if status.partitions_def is None else str(sum(counts.values())),
            *(Text(str(counts[s]), style=STATE_STYLES[s] if counts[s] else "dim") for s in STATES),
            *extra,
            Text("\n").join(line for line in details if line.plain),
        )
    output_console().print(table)


class _CheckSummary:
    """One asset's checks by their latest results: a check fails if any partition failed."""

    def __init__(self, defs: Definitions, key: AssetKey, records: Sequence[Any]) -> None:
        self.names = [check.name for check in defs.checks_for(key)]
        self.failed: dict[str, list[Any]] = {}
        self.ran: set[str] = set()
        for record in records:
            if record.check_name not in self.names:
                continue  # a check removed from the code since
            self.ran.add(record.check_name)
            if not record.passed:
                self.failed.setdefault(record.check_name, []).append(record)

    def cell(self) -> Text:
        if not self.names:
            return Text("-", style="dim")
        passed = len(self.ran) - len(self.failed)
        text = Text(f"{passed} passed", style="green" if passed else "dim")
        if self.failed:
            errors = any(r.severity == "ERROR" for rs in self.failed.values() for r in rs)
            text.append(f", {len(self.failed)} failed", style="red" if errors else "yellow")
        not_run = len(self.names) - len(self.ran)
        if not_run:
            text.append(f", {not_run} not run", style="dim")
        return text

    def lines(self, limit: int) -> list[Text]:
        lines = []
        for name, records in self.failed.items():
            severity = "ERROR" if any(r.severity == "ERROR" for r in records) else "WARN"
            line = Text("check failed: ", style="red" if severity == "ERROR" else "yellow")
            line.append(f"{name} ({severity}")
            partitions = [r.partition for r in records if r.partition is not None]
            if partitions:
                shown = ", ".join(partitions[:limit])
                more = f" (+{len(partitions) - limit} more)" if len(partitions) > limit else ""
                line.append(f", partitions {shown}{more}")
            line.append(")")
            description = records[0].description
            if description:
                line.append(f" {description}", style="dim")
            lines.append(line)
        return lines


def _freshness_cell(freshness: AssetFreshness | None) -> Text:
    if freshness is None:
        return Text("-", style="dim")
    if not freshness.overdue:
        return Text("fresh", style="green")
    return Text(f"overdue {_minutes(freshness.minutes_overdue or 0.0)}", style="red")


def _overdue_line(freshness: AssetFreshness) -> Text:
    policy = freshness.policy
    against = f"maximum lag {_minutes(policy.maximum_lag_minutes)}"
    if policy.cron_schedule:
        against = (
            f"cron deadline {policy.cron_schedule!r} ({policy.cron_schedule_timezone}), " + against
        )
    newest = (
        f"newest data {_minutes(freshness.lag_minutes)} old"
        if freshness.lag_minutes is not None
        else "never materialized"
    )
    line = Text("overdue: ", style="red")
    line.append(f"{_minutes(freshness.minutes_overdue or 0.0)} late against {against}; {newest}")
    return line


def _minutes(minutes: float) -> str:
    """``45 min``, ``3 h 5 min``, ``2 d 4 h``: how late, readable at a glance."""
    whole = int(minutes)
    if whole < 60:
        return f"{whole} min"
    if whole < 24 * 60:
        return f"{whole // 60} h {whole % 60} min"
    return f"{whole // (24 * 60)} d {whole // 60 % 24} h"


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
