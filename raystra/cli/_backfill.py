"""``raystra backfill``: many partitions as one recorded, resumable run; list, status, cancel.

``raystra backfill --select SEL --from A --to B`` starts one (so does ``raystra backfill run
...``); ``list``, ``status ID``, ``resume ID`` and ``cancel ID`` are subcommands. A backfill
shows live progress in targets (asset partitions) and exits 0 when every target was
materialized, 1 when some failed, were skipped or the backfill was canceled.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import closing
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from raystra import api
from raystra.cli._backfill_render import (
    TARGET_STYLES,
    backfill_status_text,
    counts_text,
    describe_partitions,
    follow,
    print_hints,
    print_per_asset,
    selection_text,
    target_name,
)
from raystra.cli._loading import (
    AttributeOption,
    DefinitionsTarget,
    FileOption,
    ModuleOption,
    definitions_from,
)
from raystra.cli._render import format_time, output_console, short_id
from raystra.cli._run_options import (
    ConfigOption,
    ExecutorOption,
    MaxConcurrentOption,
    RayAddressOption,
    TagOption,
    load_run_config,
    parse_tags,
)
from raystra.definitions._partitions import PartitionKeyRange
from raystra.errors import RaystraError, SelectionError
from raystra.planning import AssetSelection
from raystra.storage import open_storage
from raystra.storage._backfill_records import BackfillRecord

__all__ = ["app"]

SelectOption = Annotated[
    str,
    typer.Option(
        "--select",
        "-s",
        help="Assets to backfill: 'orders+', 'group:sales', '*' (all); see materialize.",
    ),
]
FromOption = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="FIRST",
        help="First partition of a range (with --to).",
        show_default=False,
    ),
]
ToOption = Annotated[
    str | None,
    typer.Option(
        "--to", metavar="LAST", help="Last partition of the range, included.", show_default=False
    ),
]
PartitionsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--partitions",
        metavar="KEY,KEY",
        help="These partition keys, comma-separated (repeatable).",
        show_default=False,
    ),
]
AllOption = Annotated[bool, typer.Option("--all", help="Every partition.")]
MissingOption = Annotated[
    bool,
    typer.Option("--missing", help="Only partitions never materialized, or whose last run failed."),
]
StaleOption = Annotated[
    bool,
    typer.Option(
        "--stale", help="Only stale partitions (code version or an upstream partition changed)."
    ),
]
BackfillArgument = Annotated[
    str,
    typer.Argument(metavar="ID", help="Backfill id or its first characters (from backfill list)."),
]

# Options of `raystra backfill` that its subcommands also take from it.
_SHARED_OPTIONS = ("module", "file", "attribute")

app = typer.Typer(
    help=(
        "Run many partitions as one recorded, resumable run: `raystra backfill --select SEL "
        "(--from A --to B | --partitions a,b | --all) [--missing | --stale]`; or list, "
        "inspect, resume and cancel backfills."
    ),
    no_args_is_help=True,
)


def start_backfill(
    ctx: typer.Context,
    select: SelectOption = "*",
    start: FromOption = None,
    end: ToOption = None,
    partitions: PartitionsOption = None,
    all_partitions: AllOption = False,
    missing: MissingOption = False,
    stale: StaleOption = False,
    config: ConfigOption = None,
    tag: TagOption = None,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    max_concurrent: MaxConcurrentOption = None,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Backfill partitions of the selected assets as one run, with progress in targets.

    Say which partitions with --from A --to B, --partitions a,b or --all; --missing or --stale
    keep only those (alone, they mean every partition). Exits 0 when every target was
    materialized, 1 otherwise (resume with `raystra backfill resume ID`), 2 on invalid input.
    """
    if ctx.invoked_subcommand is not None:
        _check_no_start_options(ctx)
        base = ctx.obj if isinstance(ctx.obj, DefinitionsTarget) else DefinitionsTarget()
        ctx.obj = base.overridden_by(module, file, attribute)  # for the subcommand
        return
    defs = definitions_from(ctx, module, file, attribute)
    selection = AssetSelection.from_string(select)
    request = partition_request(
        start, end, partitions, all_partitions, missing=missing, stale=stale
    )
    only = _only(missing, stale)
    run_config = load_run_config(config)
    tags = parse_tags(tag)
    api.resolve_selection(defs, selection)  # fail on an empty selection before any output
    backfill_id = uuid.uuid4().hex[:12]
    follow(
        defs,
        backfill_id,
        lambda on_event: api.backfill(
            defs,
            selection,
            partitions=request,
            only=only,
            backfill_id=backfill_id,
            run_config=run_config,
            tags=tags,
            executor=executor,
            ray_address=ray_address,
            max_concurrent=max_concurrent,
            on_event=on_event,
        ),
    )


app.callback(invoke_without_command=True)(start_backfill)
app.command("run")(start_backfill)


def _check_no_start_options(ctx: typer.Context) -> None:
    """Options given before a subcommand would be silently ignored: refuse them."""
    sources = {name: ctx.get_parameter_source(name) for name in ctx.params}
    given = [
        name
        for name, source in sources.items()
        if source and source.name != "DEFAULT" and name not in _SHARED_OPTIONS
    ]
    if given:
        raise RaystraError(
            f"Options that start a backfill ({', '.join(_flag(n) for n in given)}) cannot go "
            f"before `{ctx.invoked_subcommand}`; put the subcommand's own options after it "
            f"(`raystra backfill {ctx.invoked_subcommand} --help`), or start a backfill without "
            "a subcommand: raystra backfill --select SEL --from A --to B."
        )


def _flag(param: str) -> str:
    named = {"start": "--from", "end": "--to", "all_partitions": "--all"}
    return named.get(param, "--" + param.replace("_", "-"))


def partition_request(
    start: str | None,
    end: str | None,
    partitions: Sequence[str] | None,
    all_partitions: bool,
    *,
    missing: bool = False,
    stale: bool = False,
) -> api.PartitionRequest | None:
    """The `PartitionRequest` for --from/--to, --partitions or --all (None: only --missing/--stale).

    Example:
        >>> partition_request(None, None, ["a,b", "c"], False).keys
        ('a', 'b', 'c')
    """
    if (start is None) != (end is None):
        given, other = ("--from", "--to") if end is None else ("--to", "--from")
        raise SelectionError(
            f"{given} needs {other} too: a range names its first and last partition, both "
            "included, e.g. --from 2024-01-01 --to 2024-01-31."
        )
    keys = tuple(key.strip() for chunk in partitions or () for key in chunk.split(","))
    keys = tuple(key for key in keys if key)
    if partitions and not keys:
        raise SelectionError("--partitions was given no keys; write e.g. --partitions a,b.")
    if not keys and start is None and not all_partitions and (missing or stale):
        return None
    key_range = PartitionKeyRange(start, end) if start is not None and end is not None else None
    return api.PartitionRequest(keys=keys, key_range=key_range, all=all_partitions)


def _only(missing: bool, stale: bool) -> str | None:
    if missing and stale:
        raise SelectionError(
            "Pass --missing or --stale, not both; run one backfill for each if you need both."
        )
    return "missing" if missing else "stale" if stale else None


@app.command("resume")
def resume(
    ctx: typer.Context,
    backfill_id: BackfillArgument,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    max_concurrent: MaxConcurrentOption = None,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Run again only the targets that failed, were skipped, canceled or never reached."""
    defs = definitions_from(ctx, module, file, attribute)
    with closing(open_storage()) as store:
        record: BackfillRecord = store.get_backfill(backfill_id)
    follow(
        defs,
        record.backfill_id,
        lambda on_event: api.resume_backfill(
            defs,
            record.backfill_id,
            executor=executor,
            ray_address=ray_address,
            max_concurrent=max_concurrent,
            on_event=on_event,
        ),
    )


@app.command("cancel")
def cancel(backfill_id: BackfillArgument) -> None:
    """Ask a running backfill to stop; its process cancels in-flight steps within a second."""
    record = api.cancel_backfill(backfill_id)
    console = output_console()
    if record.status in ("COMPLETED", "FAILED", "CANCELED"):
        console.print(
            Text(f"Backfill {record.backfill_id} already ended ")
            + backfill_status_text(record.status)
            + Text("; nothing to cancel.")
        )
        return
    console.print(
        Text(f"Backfill {record.backfill_id} ")
        + backfill_status_text(record.status)
        + Text(
            ": the process running it stops it within a second. Run what is left later "
            f"with: raystra backfill resume {record.backfill_id}"
        )
    )


@app.command("list")
def list_backfills(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many backfills.")] = 20,
) -> None:
    """List recent backfills, newest first, with their target counts."""
    with closing(open_storage()) as store:
        records: list[BackfillRecord] = store.list_backfills(limit=limit)
    console = output_console()
    if not records:
        console.print(
            "No backfills yet. Start one with `raystra backfill --select SEL --from A --to B`.",
            markup=False,
        )
        return
    table = Table(header_style="bold")
    table.add_column("backfill id", no_wrap=True)
    table.add_column("status")
    table.add_column("created")
    table.add_column("selection", overflow="fold")
    table.add_column("partitions", no_wrap=True)
    table.add_column("targets", overflow="fold")
    for record in records:
        table.add_row(
            record.backfill_id,
            backfill_status_text(record.status),
            format_time(record.created_at),
            Text(selection_text(record.selection)),
            Text(describe_partitions(record.partitions)),
            counts_text(record.counts),
        )
    console.print(table)


@app.command("status")
def status(
    backfill_id: BackfillArgument,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many failed/skipped targets to list.")
    ] = 10,
) -> None:
    """Show a backfill: request, status, runs, and its targets' counts per asset."""
    with closing(open_storage()) as store:
        record: BackfillRecord = store.get_backfill(backfill_id)
        targets = store.backfill_target_statuses(record.backfill_id)
    console = output_console()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Backfill", record.backfill_id)
    grid.add_row("Status", backfill_status_text(record.status))
    grid.add_row("Selection", Text(selection_text(record.selection, limit=20)))
    grid.add_row("Partitions", Text(describe_partitions(record.partitions)))
    grid.add_row("Targets", Text(f"{record.total}: ") + counts_text(record.counts))
    grid.add_row("Runs", Text(", ".join(short_id(r) for r in record.run_ids) or "-"))
    grid.add_row("Created", format_time(record.created_at))
    grid.add_row("Updated", format_time(record.updated_at))
    console.print(grid)
    console.print()
    print_per_asset(console, targets)
    for state in ("failed", "skipped", "canceled", "missing"):
        chosen = sorted(t for t, s in targets.items() if s == state)
        if chosen:
            shown = ", ".join(target_name(t) for t in chosen[:limit])
            more = f" (+{len(chosen) - limit} more)" if len(chosen) > limit else ""
            console.print(
                Text(f"{state.capitalize()}: ", style=TARGET_STYLES.get(state, "bold"))
                + Text(shown + more)
            )
    print_hints(console, record)
