"""``raystra lineage ASSET``: which materialization produced each partition, and what it read
(``--upstream``, the default) or what read it (``--downstream``), as recorded at run time.

The definitions are optional: with -m/-f (or ``[tool.raystra]``) an unknown asset or partition
key is reported against them; without, everything comes from run storage.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from raystra import api
from raystra.cli._loading import (
    AttributeOption,
    DefinitionsTarget,
    FileOption,
    ModuleOption,
    find_definitions,
    load_definitions,
)
from raystra.cli._partitions import _project_configured
from raystra.cli._render import format_time, output_console, short_id
from raystra.definitions import Definitions
from raystra.storage import open_storage

__all__ = ["lineage"]

_SUPERSEDED_STYLE = "magenta"
_CHILDREN = {"upstream": ("input", "inputs"), "downstream": ("reader", "readers")}


def lineage(
    ctx: typer.Context,
    asset: Annotated[
        str, typer.Argument(metavar="ASSET", help="Asset key, e.g. raw/orders.", show_default=False)
    ],
    partition: Annotated[
        str | None,
        typer.Option(
            "--partition",
            metavar="KEY",
            help="One partition (default: every materialized partition, newest key first).",
            show_default=False,
        ),
    ] = None,
    upstream: Annotated[
        bool,
        typer.Option(
            "--upstream/--downstream",
            help="Follow what each materialization read (upstream), or what read it (downstream).",
        ),
    ] = True,
    depth: Annotated[
        int, typer.Option("--depth", "-d", min=0, help="Levels to follow (0: none).")
    ] = 1,
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", min=1, help="Partitions shown, and inputs or readers per node."
        ),
    ] = 20,
    offset: Annotated[
        int, typer.Option("--offset", min=0, help="Partitions to skip (to page through them).")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tree as JSON.")] = False,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Show which run, at what time and data version, produced each partition of ASSET, and
    the upstream materializations it read: the provenance recorded when it ran.

    Inputs that were materialized again since are marked superseded: a partition that read
    one is stale (`raystra materialize --stale-only` rebuilds it). --downstream shows the
    later materializations that read each one instead.
    """
    defs = _optional_definitions(ctx, module, file, attribute)
    with closing(open_storage()) as store:
        tree = api.lineage(
            asset,
            partition,
            direction="upstream" if upstream else "downstream",
            depth=depth,
            limit=limit,
            offset=offset,
            definitions=defs,
            storage=store,
        )
    if as_json:
        typer.echo(json.dumps(tree.to_dict(), indent=2, default=str))
        return
    render(output_console(), tree)


def render(console: Console, tree: api.AssetLineage) -> None:
    """Print ``tree``: a header, one tree per partition, and what was left out."""
    console.print(_header(tree))
    for root in tree.partitions:
        shown = Tree(_node_text(root, root=True), guide_style="dim")
        _add_children(shown, root, tree, level=0)
        console.print(shown)
    if not tree.partitions:
        console.print(
            Text(f"No partitions after the first {tree.offset}; lower --offset.", style="dim")
        )
    if tree.more_partitions:
        next_offset = tree.offset + len(tree.partitions)
        console.print(
            Text(
                f"... {tree.more_partitions} more partition(s): page with --offset {next_offset}, "
                "show more with --limit N, or pick one with --partition KEY.",
                style="dim",
            )
        )
    if any(node.superseded or node.stale for _, node in tree.walk()):
        console.print(
            Text(
                "superseded: materialized again since. stale: read a superseded input "
                "(`raystra materialize --stale-only` rebuilds it).",
                style="dim",
            )
        )


def _header(tree: api.AssetLineage) -> Text:
    name = tree.asset_key.to_user_string()
    text = Text(f"{tree.direction.capitalize()} lineage of ", style="bold")
    text.append(name, style="bold cyan")
    levels = "level" if tree.depth == 1 else "levels"
    text.append(f" ({tree.depth} {levels})", style="dim")
    if tree.partition is None and tree.total_partitions > 1:
        text.append(
            f": {len(tree.partitions)} of {tree.total_partitions} materialized partitions, "
            "newest key first",
            style="dim",
        )
    return text


def _add_children(branch: Tree, node: api.LineageNode, tree: api.AssetLineage, level: int) -> None:
    for child in node.children:
        _add_children(branch.add(_node_text(child)), child, tree, level + 1)
    singular, plural = _CHILDREN[tree.direction]
    hidden = node.hidden_children
    if hidden and node.children:
        branch.add(Text(f"... {hidden} more {plural} (show more with --limit N)", style="dim"))
    elif hidden:
        noun = singular if hidden == 1 else plural
        branch.add(Text(f"... {hidden} {noun} (raise --depth to see them)", style="dim"))
    elif level == 0 and node.total_children == 0:
        empty = "no recorded inputs" if tree.direction == "upstream" else "not read by anything yet"
        branch.add(Text(empty, style="dim"))


def _node_text(node: api.LineageNode, *, root: bool = False) -> Text:
    text = Text(node.label, style="bold" if root else "")
    record = node.materialization
    if node.run_id is None:
        text.append(
            "  no recorded materialization (external, or read before raystra recorded it)",
            style="dim",
        )
    else:
        text.append(f"  run {short_id(node.run_id)}")
        if record is not None:
            text.append(f"  {format_time(record.timestamp)}", style="dim")
    if node.data_version:
        text.append(f"  data {node.data_version}", style="green")
    if record is not None and record.code_version is not None:
        text.append(f"  code {record.code_version}")
    if node.run_id is not None and record is None:
        text.append("  (its record is no longer in run storage)", style="dim")
    if node.superseded_inputs:
        count = node.superseded_inputs
        text.append(
            f"  stale: {count} input{'' if count == 1 else 's'} superseded", style="bold magenta"
        )
    latest = node.latest
    if latest is not None:
        text.append(
            f"  superseded by run {short_id(latest.run_id)} at {format_time(latest.timestamp)}",
            style=_SUPERSEDED_STYLE,
        )
    return text


def _optional_definitions(
    ctx: typer.Context, module: str | None, file: Path | None, attribute: str | None
) -> Definitions | None:
    """The definitions when they can be found (options or pyproject); None otherwise."""
    base = ctx.obj if isinstance(ctx.obj, DefinitionsTarget) else DefinitionsTarget()
    target = base.overridden_by(module, file, attribute)
    if target.module is None and target.file is None and not _project_configured(Path.cwd()):
        return None
    return load_definitions(find_definitions(target))
