"""The ``raystra`` command: the app, its global options and how errors are shown.

Any `RaystraError` (and any failure importing the user's code) prints as one red paragraph on
stderr and exits 2; a failed run exits 1. ``--debug`` (or ``RAYSTRA_DEBUG=1``) adds the full
traceback. A bare Python traceback is never printed otherwise.
"""

from __future__ import annotations

import os
import signal
import traceback
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

import raystra
from raystra.cli import (
    _assets,
    _automation,
    _backfill,
    _check,
    _daemon,
    _jobs,
    _lineage,
    _materialize,
    _partitions,
    _runs,
    _submit,
    _ui,
)
from raystra.cli._loading import AttributeOption, DefinitionsTarget, FileOption, ModuleOption
from raystra.cli._render import error_console
from raystra.errors import RaystraError

__all__ = ["app", "main"]

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class _RaystraGroup(TyperGroup):
    """Turns exceptions from any command into a readable message and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # usage errors and deliberate exits: typer prints and exits as usual
        except KeyboardInterrupt:
            error_console().print(Text("Interrupted.", style="yellow"))
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as err:
            _report(err, debug=_debug_requested(ctx))
            raise typer.Exit(EXIT_ERROR) from None


def _debug_requested(ctx: Any) -> bool:
    flag = bool(getattr(ctx, "params", {}).get("debug"))
    return flag or os.environ.get("RAYSTRA_DEBUG", "").lower() in ("1", "true", "yes")


def _report(err: Exception, *, debug: bool) -> None:
    console = error_console()
    if debug:
        console.print(Text("".join(traceback.format_exception(err)), style="dim"), end="")
    if isinstance(err, RaystraError):
        message = str(err)
    else:
        hint = "" if debug else " Rerun with --debug for the full traceback."
        message = (
            f"Unexpected {type(err).__name__}: {err}.{hint} If it looks like a raystra bug, "
            "please report it with the command you ran."
        )
    console.print(Text(f"Error: {message}", style="red"), soft_wrap=True)


app = typer.Typer(
    name="raystra",
    cls=_RaystraGroup,
    help=(
        "raystra: asset-centric data orchestration on Ray.\n\n"
        "Point it at your definitions with -m MODULE or -f FILE (before or after the command), "
        'or with module = "..." under \\[tool.raystra] in pyproject.toml.'
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"raystra {raystra.__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Global options: where the definitions are, and how errors are shown."""
    target = DefinitionsTarget().overridden_by(module, file, attribute)
    ctx.obj = target


app.command("check")(_check.check)
app.command("materialize")(_materialize.materialize)
app.command("reexecute")(_materialize.reexecute)
app.command("lineage")(_lineage.lineage)
app.add_typer(_assets.app, name="assets")
app.add_typer(_runs.app, name="runs")
app.add_typer(_jobs.app, name="job")
app.add_typer(_backfill.app, name="backfill")
app.add_typer(_partitions.app, name="partitions")
app.add_typer(_submit.app, name="submit")
app.command("daemon")(_daemon.daemon)
app.add_typer(_automation.schedule_app, name="schedule")
app.add_typer(_automation.sensor_app, name="sensor")
app.add_typer(_ui.app, name="ui")
app.command("dev")(_ui.dev)


def _interrupt_on_sigterm(signum: int, frame: Any) -> None:
    # `raystra submit stop`, `kill PID` and Kubernetes send SIGTERM: stop like Ctrl-C, so the
    # run (or backfill) is recorded CANCELED and in-flight Ray tasks are cancelled.
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    """Entry point of the ``raystra`` console script."""
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    app(prog_name="raystra")


if __name__ == "__main__":
    main()
