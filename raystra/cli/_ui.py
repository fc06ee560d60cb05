"""``raystra ui`` and ``raystra dev``: the web UI and its JSON API, and token management.

``raystra ui`` serves on 127.0.0.1:3000 by default, reading the same run storage as every
other command; ``raystra dev`` also runs the daemon loop (`raystra.cli._daemon.daemon_loop`)
in a background thread. ``raystra ui token create --user NAME --role ROLE`` makes users and
tokens for ``--auth`` (the first admin included). ``raystra ui worker`` is what the server
runs, one process per launched run; it is not meant to be typed.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from raystra import api
from raystra.cli._loading import (
    AttributeOption,
    DefinitionsTarget,
    FileOption,
    ModuleOption,
    definitions_from,
    find_definitions,
)
from raystra.cli._render import format_time, output_console
from raystra.errors import RaystraError

__all__ = ["app", "dev"]

app = typer.Typer(
    help="Serve the web UI and its JSON API (default http://127.0.0.1:3000); manage tokens.",
    invoke_without_command=True,
    no_args_is_help=False,
)
token_app = typer.Typer(help="Users and API tokens for `raystra ui --auth`.", no_args_is_help=True)
app.add_typer(token_app, name="token")

HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int, typer.Option("--port", help="Port to listen on.", min=0, max=65535)]
AuthOption = Annotated[
    bool,
    typer.Option("--auth", help="Require a token on every page and API call (roles apply)."),
]
ExecutorOption = Annotated[
    str | None,
    typer.Option("--executor", help="Executor of launched runs: ray or in_process."),
]
RayAddressOption = Annotated[
    str | None, typer.Option("--ray-address", help="Ray cluster launched runs attach to.")
]


def _launch_target(target: DefinitionsTarget) -> tuple[list[str], Path | None]:
    """CLI arguments (and working directory) that make a child find the same definitions."""
    args = ["-m", target.module] if target.module else ["-f", str(target.file)]
    if target.attribute:
        args += ["-a", target.attribute]
    cwd = Path(target.source).parent if target.source.endswith("pyproject.toml") else None
    return args, cwd


def _serve(
    ctx: typer.Context,
    *,
    module: str | None,
    file: Path | None,
    attribute: str | None,
    host: str,
    port: int,
    auth: bool,
    executor: str | None,
    ray_address: str | None,
    daemon_interval: float | None,
) -> None:
    import uvicorn

    from raystra.web import create_app

    base = ctx.obj if isinstance(ctx.obj, DefinitionsTarget) else DefinitionsTarget()
    target = find_definitions(base.overridden_by(module, file, attribute))
    defs = definitions_from(ctx, module, file, attribute)
    launch_args, cwd = _launch_target(target)
    env = {}
    if executor:
        env["RAYSTRA_EXECUTOR"] = executor
    if ray_address:
        env["RAY_ADDRESS"] = ray_address
    if cwd is not None:
        os.chdir(cwd)  # launched runs find [tool.raystra] and the project's modules from here
    web_app = create_app(defs, launch_target=launch_args, launch_env=env, auth=auth)
    console = output_console()
    if host not in ("127.0.0.1", "localhost", "::1") and not auth:
        console.print(
            f"[yellow]Warning: serving on {host} without --auth: anyone who can reach it can "
            "launch runs.[/yellow]"
        )
    stop = threading.Event()
    daemon_thread = None
    if daemon_interval is not None:
        from raystra.cli._daemon import daemon_loop

        daemon_thread = threading.Thread(
            target=daemon_loop,
            args=(stop,),
            kwargs={"interval": daemon_interval, "definitions": defs},
            name="raystra-daemon",
            daemon=True,
        )
        daemon_thread.start()
    console.print(
        f"raystra ui: http://{host}:{port} (API docs at /api/docs"
        f"{', auth on' if auth else ''}{', daemon running' if daemon_thread else ''})"
    )
    try:
        # uvicorn handles SIGINT/SIGTERM itself: it finishes requests in flight, then returns.
        uvicorn.run(web_app, host=host, port=port, log_level="info")
    finally:
        stop.set()
        if daemon_thread is not None:
            daemon_thread.join(timeout=10)


@app.callback()
def ui(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 3000,
    auth: AuthOption = False,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Serve the web UI and JSON API over your definitions and the run storage.

    Runs launched from the UI run in `raystra` processes of their own, recorded like CLI
    runs. Stop the server with Ctrl-C; runs it launched keep going.
    """
    if ctx.invoked_subcommand is not None:
        return
    _serve(
        ctx,
        module=module,
        file=file,
        attribute=attribute,
        host=host,
        port=port,
        auth=auth,
        executor=executor,
        ray_address=ray_address,
        daemon_interval=None,
    )


def dev(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 3000,
    auth: AuthOption = False,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between daemon checks.", min=0.1)
    ] = 15.0,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """`raystra ui` plus the daemon loop in one process.

    The daemon evaluates your schedules, sensors, automation conditions and freshness
    policies and fails runs whose driver died, as `raystra daemon` does.
    """
    _serve(
        ctx,
        module=module,
        file=file,
        attribute=attribute,
        host=host,
        port=port,
        auth=auth,
        executor=executor,
        ray_address=ray_address,
        daemon_interval=interval,
    )


def _token_store() -> Any:
    from raystra.web import TokenStore, storage_url

    return TokenStore(storage_url())


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="User name (created if new).")],
    role: Annotated[
        str | None,
        typer.Option("--role", help="viewer, launcher, editor or admin (sets the user's role)."),
    ] = None,
    description: Annotated[str, typer.Option("--description", help="What it is for.")] = "",
) -> None:
    """Create a token for a user (and the user, with --role); prints the token once."""
    store = _token_store()
    try:
        token = store.create_token(user, role=role, description=description)
        info = store.user(user)
    finally:
        store.close()
    output_console().print(f"Token for {info.name} ({info.role}), shown only now:")
    typer.echo(token)


@token_app.command("list")
def token_list() -> None:
    """Users, their roles and tokens (ids only)."""
    store = _token_store()
    try:
        users, tokens = store.users(), store.tokens()
    finally:
        store.close()
    table = Table("user", "role", "token id", "description", "last used", "revoked")
    roles = {u.name: u.role for u in users}
    for token in tokens:
        table.add_row(
            token.user,
            roles.get(token.user, "?"),
            token.token_id,
            token.description,
            format_time(token.last_used_at) if token.last_used_at else "never",
            "yes" if token.revoked_at else "",
        )
    output_console().print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="Token id (see `list`).")]) -> None:
    """Revoke a token: it stops working at once."""
    store = _token_store()
    try:
        if not store.revoke(token_id):
            raise RaystraError(f"No active token {token_id!r}; `raystra ui token list` shows them.")
    finally:
        store.close()
    output_console().print(f"Token {token_id} revoked.")


@app.command("worker", hidden=True)
def worker(
    ctx: typer.Context,
    request: Annotated[str, typer.Argument(help="The launch request, as JSON.")],
) -> None:
    """Run one launch of the web server (a run, re-execution or backfill) in this process."""
    spec: dict[str, Any] = json.loads(request)
    defs = definitions_from(ctx, None, None, None)
    kind = spec["kind"]
    if kind == "materialize":
        success = api.materialize(
            defs,
            spec["selection"],
            partition_key=spec.get("partition"),
            partition_range=spec.get("partition_range"),
            tags=spec.get("tags") or None,
            raise_on_error=False,
            run_id=spec["run_id"],
        ).success
    elif kind == "reexecute":
        success = api.reexecute(
            defs,
            spec["parent_run_id"],
            from_failure=bool(spec["from_failure"]),
            new_run_id=spec["run_id"],
        ).success
    elif kind == "backfill":
        success = api.backfill(
            defs,
            spec["selection"],
            partitions=api.PartitionRequest.from_description(spec["partitions"]),
            only=spec.get("only"),
            backfill_id=spec["backfill_id"],
        ).success
    elif kind == "resume_backfill":
        success = api.resume_backfill(defs, spec["backfill_id"]).success
    else:
        raise RaystraError(f"Unknown launch kind {kind!r}.")
    raise typer.Exit(0 if success else 1)
