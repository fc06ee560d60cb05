"""How backfills are shown: live target progress, run summaries, status tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from raystra import api
from raystra.cli._progress import EventCallback, TargetProgress, one_line
from raystra.cli._render import format_duration, output_console, short_id
from raystra.definitions import AssetKey, Definitions
from raystra.errors import NothingToRunError
from raystra.events import PartitionFailed
from raystra.planning import build_partitioned_plan
from raystra.storage import open_storage
from raystra.storage._backfill_records import BackfillRecord, resumable

__all__ = [
    "BACKFILL_STYLES",
    "TARGET_STATES",
    "TARGET_STYLES",
    "backfill_status_text",
    "counts_text",
    "describe_partitions",
    "follow",
    "print_hints",
    "print_per_asset",
    "selection_text",
    "target_name",
]

# Target statuses in the order they are reported.
TARGET_STATES = ("materialized", "failed", "skipped", "canceled", "missing", "requested")
BACKFILL_STYLES = {
    "COMPLETED": "green",
    "FAILED": "bold red",
    "CANCELED": "yellow",
    "CANCELING": "yellow",
    "RUNNING": "cyan",
    "REQUESTED": "dim",
}
TARGET_STYLES = {"materialized": "green", "failed": "red", "skipped": "yellow"}


def print_per_asset(console: Console, targets: Mapping[tuple[str, str | None], str]) -> None:
    per_asset: dict[str, Counter[str]] = {}
    for (asset, _), state in targets.items():
        per_asset.setdefault(asset, Counter())[state] += 1
    states = [s for s in TARGET_STATES if any(c[s] for c in per_asset.values())]
    table = Table(header_style="bold", title="Targets per asset", title_justify="left")
    table.add_column("asset", overflow="fold")
    for state in states:
        table.add_column(state, justify="right")
    for asset in sorted(per_asset):
        table.add_row(Text(asset), *(str(per_asset[asset][s] or "-") for s in states))
    console.print(table)


def print_hints(console: Console, record: BackfillRecord) -> None:
    left = sum(n for s, n in record.counts.items() if s != "materialized")
    failed_run = record.run_ids[-1] if record.run_ids else None
    if record.counts.get("failed") and failed_run:
        console.print(
            Text(f"See the errors with: raystra runs show {short_id(failed_run)}", style="dim")
        )
    if left and record.status not in ("RUNNING", "REQUESTED", "CANCELING"):
        console.print(
            Text(
                f"{left} target(s) left: raystra backfill resume {record.backfill_id}",
                style="dim",
            )
        )


def follow(defs: Definitions, backfill_id: str, start: Callable[[EventCallback], Any]) -> None:
    """Run ``start(on_event)`` with live target progress, print the summary, exit like runs."""
    console = output_console()
    progress = TargetProgress(
        console, targets_per_step(defs, backfill_id), label=f"Backfill {backfill_id}"
    )
    try:
        with progress:
            result: api.BackfillResult = start(progress.on_event)
    except NothingToRunError as nothing:
        console.print(Text(str(nothing), style="green"))
        return
    except KeyboardInterrupt:
        console.print(
            Text(
                f"Interrupted: backfill {backfill_id} was recorded as CANCELED. Run what is "
                f"left with: raystra backfill resume {backfill_id}",
                style="yellow",
            )
        )
        raise typer.Exit(130) from None
    print_summary(console, result)
    if not result.success:
        raise typer.Exit(1)


def targets_per_step(
    defs: Definitions, backfill_id: str
) -> Callable[[Sequence[str]], dict[str, int]]:
    """How many targets each step of the backfill's run covers, from its recorded targets.

    The plan is rebuilt from the targets still to do, as `resume_backfill` does, so that a
    step of a ranged (`BackfillPolicy`) asset counts every partition it writes.
    """

    def count(step_keys: Sequence[str]) -> dict[str, int]:
        with closing(open_storage()) as store:
            todo = resumable(store.backfill_target_statuses(backfill_id))
            keys, targets = targets_by_asset(defs, todo, store)
            plan = build_partitioned_plan(defs, keys, targets, dynamic_partitions=store)
        return {
            step.key: len(step.asset_keys) * max(len(step.partition_keys), 1) for step in plan.steps
        }

    return count


def targets_by_asset(
    defs: Definitions, todo: Iterable[tuple[str, str | None]], store: Any
) -> tuple[set[AssetKey], dict[AssetKey, list[str]]]:
    keys: set[AssetKey] = set()
    targets: dict[AssetKey, list[str]] = {}
    for asset, partition in todo:
        key = AssetKey.from_user_string(asset)
        keys.add(key)
        if partition is not None:
            targets.setdefault(key, []).append(partition)
    for key, partitions in targets.items():
        definition = defs.partitions_def_for(key)
        if definition is not None:
            index = {p: definition.key_index(p, dynamic_partitions=store) for p in partitions}
            partitions.sort(key=index.__getitem__)
    return keys, targets


def print_summary(console: Console, result: api.BackfillResult) -> None:
    record = result.record
    run = result.run
    times = [event.timestamp for event in run.events]
    took = format_duration(max(times) - min(times)) if times else "-"
    header = Text(f"Backfill {record.backfill_id} ")
    header.append_text(backfill_status_text(record.status))
    header.append(f" in {took}: ")
    header.append_text(counts_text(record.counts))
    header.append(f" of {record.total} target(s) (run {short_id(run.run_id)})")
    console.print(header)
    for failure in run.failed_steps:
        console.print(
            Text(f"Step {failure.step_key!r} failed: {one_line(failure.error)}", style="red")
        )
    failed_steps = {failure.step_key for failure in run.failed_steps}
    for event in run.events:
        # A failed step's partitions all fail with it (said above); these failed on their own.
        if isinstance(event, PartitionFailed) and event.step_key not in failed_steps:
            name = f"{event.asset_key.to_user_string()}[{event.partition}]"
            console.print(Text(f"Partition {name} failed: {event.reason}", style="red"))
    if run.failed_steps:
        console.print(
            Text(f"See the traceback with: raystra runs show {short_id(run.run_id)}", style="dim")
        )
    left = sum(n for s, n in record.counts.items() if s != "materialized")
    if left:
        console.print(
            Text(
                f"{left} target(s) left: raystra backfill resume {record.backfill_id}",
                style="dim",
            )
        )


def describe_partitions(partitions: Mapping[str, Any]) -> str:
    """A stored partition request as text: ``2024-01-01...2024-01-31 (missing only)``.

    Example:
        >>> describe_partitions({"range": ["a", "c"], "only": "stale"})
        'a...c (stale only)'
    """
    if "range" in partitions:
        first, last = partitions["range"]
        text = f"{first}...{last}"
    elif "keys" in partitions:
        keys = list(partitions["keys"])
        text = ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
    else:
        text = "all"
    only = partitions.get("only")
    return f"{text} ({only} only)" if only else text


def selection_text(selection: Sequence[str], *, limit: int = 3) -> str:
    shown = ", ".join(selection[:limit])
    return shown + (f" +{len(selection) - limit} more" if len(selection) > limit else "")


def counts_text(counts: Mapping[str, int]) -> Text:
    ordered = [s for s in TARGET_STATES if counts.get(s)]
    ordered += sorted(s for s in counts if s not in TARGET_STATES and counts[s])
    text = Text()
    for i, state in enumerate(ordered):
        if i:
            text.append(", ")
        text.append(f"{counts[state]} {state}", style=TARGET_STYLES.get(state, ""))
    return text if ordered else Text("no targets", style="dim")


def backfill_status_text(status: str) -> Text:
    return Text(status, style=BACKFILL_STYLES.get(status, ""))


def target_name(target: tuple[str, str | None]) -> str:
    asset, partition = target
    return asset if partition is None else f"{asset}[{partition}]"
