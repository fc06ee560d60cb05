"""``raystra materialize`` and ``raystra reexecute``: start asset runs and follow them."""

from __future__ import annotations

from typing import Annotated

import typer

from raystra import api
from raystra.cli._loading import AttributeOption, FileOption, ModuleOption, definitions_from
from raystra.cli._progress import run_and_report
from raystra.cli._run_options import (
    ConfigOption,
    ExecutorOption,
    MaxConcurrentOption,
    RayAddressOption,
    TagOption,
    load_run_config,
    parse_tags,
)
from raystra.planning import AssetSelection

__all__ = ["materialize", "reexecute"]


def materialize(
    ctx: typer.Context,
    select: Annotated[
        str,
        typer.Option(
            "--select",
            "-s",
            help="Assets to run: 'key:raw/*', 'group:sales', '+report', 'a or b', '*' (all).",
        ),
    ] = "*",
    partition: Annotated[
        str | None,
        typer.Option(
            "--partition",
            metavar="KEY",
            help="The partition of partitioned assets to materialize, e.g. 2024-03-01.",
            show_default=False,
        ),
    ] = None,
    partition_range: Annotated[
        str | None,
        typer.Option(
            "--partition-range",
            metavar="FIRST...LAST",
            help="A range of partitions, both ends included: 2024-03-01...2024-03-31.",
            show_default=False,
        ),
    ] = None,
    stale_only: Annotated[
        bool,
        typer.Option(
            "--stale-only",
            help="Only what is stale: code version changed, or an upstream partition it read "
            "was materialized again since.",
        ),
    ] = False,
    config: ConfigOption = None,
    tag: TagOption = None,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    max_concurrent: MaxConcurrentOption = None,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Materialize the selected assets (on Ray by default), showing progress as steps finish.

    Partitioned assets need --partition KEY or --partition-range FIRST...LAST (or --stale-only);
    for many partitions, `raystra backfill` records the targets and can resume. Exits 0 when the
    run succeeded, 1 when it failed (see `raystra runs show RUN`), 2 when the definitions,
    selection, partitions or config are invalid.
    """
    defs = definitions_from(ctx, module, file, attribute)
    selection = AssetSelection.from_string(select)
    run_config = load_run_config(config)
    tags = parse_tags(tag)
    api.resolve_selection(defs, selection)  # fail on an empty selection before any output
    run_and_report(
        lambda on_event: api.materialize(
            defs,
            selection,
            run_config=run_config,
            executor=executor,
            ray_address=ray_address,
            max_concurrent=max_concurrent,
            raise_on_error=False,
            tags=tags,
            on_event=on_event,
            partition_key=partition,
            partition_range=partition_range,
            stale_only=stale_only,
        )
    )


def reexecute(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id or its first characters.")],
    from_failure: Annotated[
        bool,
        typer.Option("--from-failure", help="Run only the failed and skipped steps again."),
    ] = False,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    max_concurrent: MaxConcurrentOption = None,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Run a previous run again with the current definitions (all steps, or from failure).

    Steps not re-run hand their stored outputs to the ones that are. Exits like materialize.
    """
    defs = definitions_from(ctx, module, file, attribute)
    parent = api.get_run(run_id)
    run_and_report(
        lambda on_event: api.reexecute(
            defs,
            parent.run_id,
            from_failure=from_failure,
            executor=executor,
            ray_address=ray_address,
            max_concurrent=max_concurrent,
            raise_on_error=False,
            on_event=on_event,
        )
    )
