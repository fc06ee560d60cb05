"""``raystra submit``: run a raystra command on a Ray cluster as a Ray Job.

``raystra submit --address http://HEAD:8265 -m my_project -- backfill --select orders --from
2024-01-01 --to 2024-01-31`` uploads the project directory, runs the command on the cluster,
prints the job id, and with ``--follow`` streams its output until it ends. ``raystra submit
status|logs|stop JOB`` manage it afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from raystra.cli._loading import DefinitionsTarget
from raystra.errors import RaystraError

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Run a raystra command on a Ray cluster as a Ray Job: `raystra submit --address "
        "http://HEAD:8265 [-m MODULE | -f FILE] -- materialize ...|backfill ...`; then "
        "`raystra submit status|logs|stop JOB`."
    ),
    no_args_is_help=True,
)

AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="The cluster's Ray Jobs API, http://HEAD:8265 (default $RAY_API_SERVER_ADDRESS, "
        "then $RAY_ADDRESS).",
        show_default=False,
    ),
]


def _ray_submit() -> Any:
    # Ray is imported only by the commands that talk to a cluster.
    from raystra.execution.ray import _submit

    return _submit


@app.callback()
def submit_options(
    ctx: typer.Context,
    address: AddressOption = None,
    module: Annotated[
        str | None, typer.Option("--module", "-m", help="Module with your definitions.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="File with your definitions (inside --working-dir)."),
    ] = None,
    attribute: Annotated[
        str | None, typer.Option("--attribute", "-a", help="Name of the Definitions object.")
    ] = None,
    working_dir: Annotated[
        Path,
        typer.Option(
            "--working-dir",
            help="Project directory uploaded to the cluster (.git, .venv, caches excluded).",
        ),
    ] = Path("."),
    requirements: Annotated[
        Path | None,
        typer.Option("--requirements", help="requirements.txt to install on the cluster."),
    ] = None,
    pip: Annotated[
        list[str] | None,
        typer.Option("--pip", help="A pip package for the job (repeatable)."),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="KEY=VALUE for the job's environment (repeatable)."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Stream the job's output until it ends.")
    ] = False,
) -> None:
    """Options for submitting; the command to run follows ``--``."""
    parent = ctx.find_root().obj
    target = (
        parent if isinstance(parent, DefinitionsTarget) else DefinitionsTarget()
    ).overridden_by(module, file, attribute)
    ctx.obj = {
        "address": address,
        "target": target,
        "working_dir": working_dir,
        "requirements": requirements,
        "pip": tuple(pip or ()),
        "env": tuple(env or ()),
        "follow": follow,
    }


_PASS_THROUGH = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "help_option_names": [],  # --help belongs to the command run on the cluster
}


def _submit_command(name: str) -> Any:
    def run_on_cluster(ctx: typer.Context) -> None:
        options = ctx.obj
        submit = _ray_submit()
        target: DefinitionsTarget = options["target"]
        spec = submit.JobSpec(
            command=(name, *ctx.args),
            module=target.module,
            file=target.file,
            attribute=target.attribute,
            working_dir=options["working_dir"],
            requirements=options["requirements"],
            pip=options["pip"],
            env=submit.parse_env(options["env"]),
        )
        address = submit.job_address(options["address"])
        job_id = submit.submit(address, spec)
        typer.echo(f"Submitted job {job_id} to {address}: {spec.entrypoint()}")
        if not options["follow"]:
            typer.echo(f"Follow it with: raystra submit logs {job_id} --follow --address {address}")
            return
        info = submit.follow_logs(address, job_id, lambda chunk: typer.echo(chunk, nl=False))
        _exit_with(info)

    run_on_cluster.__doc__ = f"Run `raystra {name} ...` on the cluster."
    return run_on_cluster


for _name in ("materialize", "backfill", "reexecute", "job"):
    app.command(_name, context_settings=_PASS_THROUGH, hidden=True)(_submit_command(_name))


def _exit_with(info: Any) -> None:
    typer.echo(f"Job {info.job_id} {info.status}" + (f": {info.message}" if info.message else ""))
    if info.status != "SUCCEEDED":
        raise typer.Exit(1)


@app.command("status")
def status(
    job_id: Annotated[str, typer.Argument(help="The job id.")], address: AddressOption = None
) -> None:
    """Print a submitted job's status; exit 1 if it failed or was stopped."""
    submit = _ray_submit()
    info = submit.job_info(submit.job_address(address), job_id)
    typer.echo(f"Job {info.job_id} {info.status}" + (f": {info.message}" if info.message else ""))
    typer.echo(f"Entrypoint: {info.entrypoint}")
    if info.status in ("FAILED", "STOPPED"):
        raise typer.Exit(1)


@app.command("logs")
def logs(
    job_id: Annotated[str, typer.Argument(help="The job id.")],
    address: AddressOption = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep streaming until it ends.")] = False,
) -> None:
    """Print a submitted job's output (the raystra command's progress and summary)."""
    submit = _ray_submit()
    resolved = submit.job_address(address)
    if follow:
        _exit_with(submit.follow_logs(resolved, job_id, lambda chunk: typer.echo(chunk, nl=False)))
        return
    typer.echo(submit.job_logs(resolved, job_id), nl=False)


@app.command("stop")
def stop(
    job_id: Annotated[str, typer.Argument(help="The job id.")], address: AddressOption = None
) -> None:
    """Stop a submitted job (its run ends CANCELED once the cluster stops it)."""
    submit = _ray_submit()
    if submit.stop_job(submit.job_address(address), job_id):
        typer.echo(f"Stopping job {job_id}.")
    else:
        raise RaystraError(f"Job {job_id} had already finished; nothing to stop.")
