"""``/api/runs``: the runs list, one run with its steps, live logs, launch, re-execute, cancel."""

from __future__ import annotations

import os
import signal
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from raystra.api import cancel_backfill, resolve_selection
from raystra.api._backfill import plan_assets
from raystra.api._launch import partition_request
from raystra.api._monitor import driver_identity
from raystra.definitions import AssetKey, AssetSpec
from raystra.definitions._definitions import step_key_for
from raystra.errors import RunNotFoundError
from raystra.events import RunStatus, event_to_dict
from raystra.planning import AssetSelection
from raystra.storage import RunRecord
from raystra.web._auth import require
from raystra.web._context import WebContext, web_context
from raystra.web._launcher import RunLauncher
from raystra.web._run_detail import run_steps_json
from raystra.web._serialize import json_safe, run_json, step_node

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["runs"], dependencies=[Depends(require("viewer"))])
Context = Annotated[WebContext, Depends(web_context)]

_LOG_PAGE = 2000


class LaunchRequest(BaseModel):
    """What ``POST /api/runs`` materializes."""

    selection: str = Field(description="Assets, in the CLI's selection syntax: '+report'.")
    partition: str | None = Field(default=None, description="One partition key.")
    partition_range: tuple[str, str] | None = Field(
        default=None, description="First and last partition key, both included."
    )
    tags: dict[str, str] = Field(default_factory=dict)


class ReexecuteRequest(BaseModel):
    """What ``POST /api/runs/{run_id}/reexecute`` runs again."""

    from_failure: bool = Field(
        default=True, description="Only the failed and skipped steps (else every step)."
    )


def _run_or_404(ctx: WebContext, run_id: str) -> RunRecord:
    try:
        return ctx.storage.get_run(run_id)
    except RunNotFoundError as err:
        raise HTTPException(status_code=404, detail=str(err)) from None


def _launcher(ctx: WebContext) -> RunLauncher:
    if ctx.launcher is None:
        raise HTTPException(
            status_code=503,
            detail="This server cannot launch runs: it was started without definitions to "
            "run (start it with `raystra ui -m MODULE` or `-f FILE`).",
        )
    return ctx.launcher


def _asset_step_keys(ctx: WebContext, asset: str) -> list[str]:
    """The step keys that materialize or check ``asset`` (404 with a hint if unknown)."""
    key = AssetKey.from_user_string(asset)
    definition = ctx.definitions.get_definition(key)  # UnknownAssetError: 404 with a hint
    if isinstance(definition, AssetSpec):
        return []  # external: raystra never runs it
    checks = [c.check_key for c in ctx.definitions.asset_checks if c.asset_key == key]
    return [step_key_for(definition), *checks]


@router.get("/runs")
def list_runs(
    ctx: Context,
    status: Annotated[str | None, Query(description="QUEUED, STARTED, SUCCESS, ...")] = None,
    asset: Annotated[str | None, Query(description="Only runs targeting this asset key")] = None,
    backfill: Annotated[str | None, Query(description="Only the runs of this backfill")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    before: Annotated[
        float | None, Query(description="Only runs created before this time (paging cursor)")
    ] = None,
) -> dict[str, Any]:
    """Most recent runs first, filtered; ``next_before`` pages to older runs."""
    statuses = None
    if status:
        try:
            statuses = [RunStatus(status.upper())]
        except ValueError:
            names = ", ".join(s.value for s in RunStatus)
            raise HTTPException(
                status_code=400, detail=f"Unknown run status {status!r}; use one of {names}."
            ) from None
    if backfill:
        record = ctx.storage.get_backfill(backfill)
        runs = [ctx.storage.get_run(run_id) for run_id in record.run_ids]
        runs = [r for r in runs if statuses is None or r.status in statuses]
        runs = [r for r in runs if before is None or r.created_at < before]
        if asset is not None:
            wanted = set(_asset_step_keys(ctx, asset))
            runs = [r for r in runs if any(step_node(k) in wanted for k in r.selection)]
        runs.sort(key=lambda r: r.created_at, reverse=True)
    else:
        runs = ctx.storage.find_runs(
            step_keys=None if asset is None else _asset_step_keys(ctx, asset),
            limit=limit + 1,
            statuses=statuses,
            created_before=before,
        )
    page = runs[:limit]
    return {
        "runs": [run_json(r, trace_url=ctx.trace_link(r.trace_id)) for r in page],
        "next_before": page[-1].created_at if len(runs) > limit else None,
    }


@router.get("/runs/{run_id}")
def get_run(ctx: Context, run_id: str) -> dict[str, Any]:
    """A run with its steps: status, times, attempts (node, worker pid), errors with tracebacks."""
    run = _run_or_404(ctx, run_id)
    return {
        **run_json(run, trace_url=ctx.trace_link(run.trace_id)),
        "steps": run_steps_json(ctx, run),
    }


@router.get("/runs/{run_id}/logs")
def run_logs(
    ctx: Context,
    run_id: str,
    after: Annotated[int, Query(ge=0, description="Event id cursor: only later events")] = 0,
    kinds: Annotated[
        str | None, Query(description="Comma-separated event kinds, e.g. LogMessage")
    ] = None,
    step: Annotated[str | None, Query(description="Only this step's events")] = None,
) -> dict[str, Any]:
    """A run's events after ``after``, oldest first, for live tailing: poll again with
    ``cursor``. ``finished`` says the run ended (no more events will come)."""
    run = _run_or_404(ctx, run_id)
    wanted = [k for k in kinds.split(",") if k] if kinds else None
    stored = ctx.storage.get_events(
        run.run_id, after_storage_id=after, kinds=wanted, step_key=step
    )[:_LOG_PAGE]
    records = []
    for item in stored:
        payload = event_to_dict(item.event)
        records.append(
            {
                "id": item.storage_id,
                "kind": item.event.kind,
                "timestamp": item.event.timestamp,
                "step_key": payload.get("step_key"),
                "level": payload.get("level") or _level(item.event.kind, payload),
                "message": payload.get("message") or payload.get("reason") or _summary(payload),
                "event": json_safe(payload),
            }
        )
    return {
        "records": records,
        "cursor": stored[-1].storage_id if stored else after,
        "finished": run.status.is_finished and len(stored) < _LOG_PAGE,
        "status": run.status.value,
    }


def _level(kind: str, payload: dict[str, Any]) -> str:
    if "error" in payload or kind.endswith("Failed"):
        return "ERROR"
    return "WARNING" if kind in ("StepRetrying", "RunCanceled", "StepSkipped") else "INFO"


def _summary(payload: dict[str, Any]) -> str:
    """A failure's one line (``RuntimeError: no sales``); the traceback is on the step."""
    error = payload.get("error")
    if isinstance(error, dict):
        return f"{error.get('type_name', 'Error')}: {error.get('message', '')}"
    return ""


@router.post("/runs", status_code=201, dependencies=[Depends(require("launcher"))])
def launch_run(ctx: Context, body: LaunchRequest) -> dict[str, Any]:
    """Materialize a selection (optionally one partition or a range) in the background.

    The request is checked here first (selection, partitions), so mistakes answer 400 at once;
    the run then starts in its own process and this returns as soon as it is recorded.
    """
    launcher = _launcher(ctx)
    defs = ctx.definitions
    selection = AssetSelection.from_string(body.selection)
    keys = resolve_selection(defs, selection)
    partition_range = "...".join(body.partition_range) if body.partition_range else None
    request = partition_request(body.partition, partition_range)
    plan_assets(defs, keys, request, ctx.storage)  # raises a clear error on bad partitions
    run_id = str(uuid.uuid4())
    launch = launcher.launch(
        {
            "kind": "materialize",
            "run_id": run_id,
            "selection": body.selection,
            "partition": body.partition,
            "partition_range": partition_range,
            "tags": body.tags,
        },
        launch_id=run_id,
    )
    launcher.wait_until(launch, lambda: _recorded(ctx, run_id))
    return {"run_id": run_id}


def _recorded(ctx: WebContext, run_id: str) -> bool:
    try:
        ctx.storage.get_run(run_id)
    except RunNotFoundError:
        return False
    return True


@router.post(
    "/runs/{run_id}/reexecute", status_code=201, dependencies=[Depends(require("launcher"))]
)
def reexecute_run(ctx: Context, run_id: str, body: ReexecuteRequest) -> dict[str, Any]:
    """Run a run again: only its failed and skipped steps (``from_failure``), or all."""
    launcher = _launcher(ctx)
    parent = _run_or_404(ctx, run_id)
    if not parent.status.is_finished:
        raise HTTPException(
            status_code=409, detail=f"Run {parent.run_id} is still {parent.status.value}."
        )
    if body.from_failure:
        stats = {s.step_key: s.status for s in ctx.storage.get_step_stats(parent.run_id)}
        if all(stats.get(key) == "SUCCESS" for key in parent.selection):
            raise HTTPException(
                status_code=400,
                detail=f"Run {parent.run_id} has no failed or skipped steps to re-execute; "
                'send {"from_failure": false} to run all of its steps again.',
            )
    new_run_id = str(uuid.uuid4())
    launch = launcher.launch(
        {
            "kind": "reexecute",
            "run_id": new_run_id,
            "parent_run_id": parent.run_id,
            "from_failure": body.from_failure,
        },
        launch_id=new_run_id,
    )
    launcher.wait_until(launch, lambda: _recorded(ctx, new_run_id))
    return {"run_id": new_run_id, "parent_run_id": parent.run_id}


@router.post("/runs/{run_id}/cancel", status_code=202, dependencies=[Depends(require("launcher"))])
def cancel_run(ctx: Context, run_id: str) -> dict[str, Any]:
    """Stop a run in progress; it ends CANCELED within seconds (poll the run).

    Runs this server launched get SIGTERM; a backfill's run is asked to stop through the
    backfill; a run started elsewhere on this machine gets SIGTERM at its recorded PID.
    """
    run = _run_or_404(ctx, run_id)
    if run.status.is_finished:
        raise HTTPException(
            status_code=409,
            detail=f"Run {run.run_id} already ended {run.status.value}; nothing to cancel.",
        )
    if ctx.launcher is not None and ctx.launcher.cancel(run.run_id):
        return {"run_id": run.run_id, "canceling": True, "how": "SIGTERM to its process"}
    backfill_id = run.tags.get("raystra/backfill")
    if backfill_id:
        cancel_backfill(backfill_id, storage=ctx.storage)
        return {"run_id": run.run_id, "canceling": True, "how": f"backfill {backfill_id}"}
    here = driver_identity()
    if (
        run.driver_pid is not None
        and run.driver_host == here["driver_host"]
        and run.driver_pid != os.getpid()
    ):
        try:
            os.kill(run.driver_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        else:
            return {"run_id": run.run_id, "canceling": True, "how": "SIGTERM to its driver"}
    raise HTTPException(
        status_code=409,
        detail=f"Run {run.run_id} runs on {run.driver_host or 'an unknown host'} "
        f"(pid {run.driver_pid}), which this server cannot signal; stop it there (Ctrl-C, "
        "or `raystra submit stop` for a submitted job).",
    )
