"""``/api/automation``: schedules, sensors, freshness and automation conditions.

Reading needs the viewer role; starting, stopping and previewing a schedule or sensor need
editor (a preview runs the user's function, though it records nothing). The same functions
back ``raystra schedule|sensor``, so the UI and the CLI agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from raystra.automation import asset_freshness
from raystra.automation._freshness import AssetFreshness
from raystra.automation._instigators import (
    Preview,
    UnknownInstigatorError,
    find_instigator,
    instigator_summaries,
    preview_schedule,
    preview_sensor,
    set_instigator_status,
    tick_json,
)
from raystra.web._auth import require
from raystra.web._context import WebContext, web_context

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["automation"], dependencies=[Depends(require("viewer"))])
Context = Annotated[WebContext, Depends(web_context)]


def _now() -> datetime:
    return datetime.now(UTC)


def freshness_json(item: AssetFreshness) -> dict[str, Any]:
    """One asset's freshness: its policy, newest data, and how late it is."""
    policy = item.policy
    return {
        "asset_key": item.asset_key.to_user_string(),
        "maximum_lag_minutes": policy.maximum_lag_minutes,
        "cron_schedule": policy.cron_schedule,
        "cron_schedule_timezone": policy.cron_schedule_timezone,
        "last_materialized_at": item.last_materialized_at,
        "lag_minutes": item.lag_minutes,
        "overdue": item.overdue,
        "overdue_since": item.overdue_since.isoformat() if item.overdue_since else None,
        "minutes_overdue": item.minutes_overdue,
    }


def preview_json(preview: Preview) -> dict[str, Any]:
    """What a preview would launch, as JSON."""
    return {
        "name": preview.name,
        "kind": preview.kind,
        "evaluated_at": preview.evaluated_at.isoformat(),
        "runs": [
            {**run, "run_key": key} for run, key in zip(preview.runs, preview.run_keys, strict=True)
        ],
        "already_launched": preview.already_launched,
        "skip_reason": preview.skip_reason,
        "cursor": preview.cursor,
        "dynamic_partitions": preview.dynamic_partitions,
        "next_ticks": [tick.isoformat() for tick in preview.next_ticks],
    }


def _known(ctx: WebContext, name: str) -> None:
    try:
        find_instigator(ctx.definitions, name)
    except UnknownInstigatorError as err:
        raise HTTPException(status_code=404, detail=str(err)) from None


@router.get("/automation")
def automation_overview(ctx: Context) -> dict[str, Any]:
    """Every schedule and sensor with status and last tick, freshness, and conditions."""
    now = _now()
    summaries = instigator_summaries(ctx.definitions, ctx.storage, now=now)
    evaluations = ctx.storage.get_automation_evaluations()
    conditions = []
    for assets_def in ctx.definitions.assets:
        condition = getattr(assets_def, "automation_condition", None)
        if condition is None:
            continue
        for key in assets_def.keys:
            latest = evaluations.get(key.to_user_string())
            conditions.append(
                {
                    "asset_key": key.to_user_string(),
                    "condition": condition.describe(),
                    "evaluated_at": latest.evaluated_at if latest else None,
                    "requested": latest.requested if latest else None,
                    "reason": latest.reason if latest else None,
                    "run_id": latest.run_id if latest else None,
                }
            )
    return {
        "now": now.isoformat(),
        "schedules": [s.to_json() for s in summaries if s.kind == "schedule"],
        "sensors": [s.to_json() for s in summaries if s.kind == "sensor"],
        "freshness": [
            freshness_json(f) for f in asset_freshness(ctx.definitions, ctx.storage, now=now)
        ],
        "conditions": conditions,
    }


@router.get("/automation/{name}/ticks")
def instigator_ticks(
    ctx: Context,
    name: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    status: Annotated[list[str] | None, Query(description="success, skipped or failed")] = None,
) -> dict[str, Any]:
    """A schedule's or sensor's recorded ticks, newest first."""
    _known(ctx, name)
    ticks = ctx.storage.get_ticks(name, limit=limit, statuses=status or None)
    return {"name": name, "ticks": [tick_json(t) for t in ticks]}


def _set(ctx: WebContext, name: str, *, running: bool) -> dict[str, Any]:
    _known(ctx, name)
    summary = set_instigator_status(ctx.definitions, ctx.storage, name, running=running, now=_now())
    return summary.to_json()


@router.post("/automation/{name}/start", dependencies=[Depends(require("editor"))])
def start_instigator(ctx: Context, name: str) -> dict[str, Any]:
    """Start a schedule (from now) or a sensor (from its cursor)."""
    return _set(ctx, name, running=True)


@router.post("/automation/{name}/stop", dependencies=[Depends(require("editor"))])
def stop_instigator(ctx: Context, name: str) -> dict[str, Any]:
    """Stop a schedule or sensor; runs it launched keep going."""
    return _set(ctx, name, running=False)


@router.post("/automation/{name}/preview", dependencies=[Depends(require("editor"))])
def preview_instigator(ctx: Context, name: str) -> dict[str, Any]:
    """Evaluate a schedule's next tick or a sensor now; nothing is recorded or launched."""
    _known(ctx, name)
    item = find_instigator(ctx.definitions, name)
    try:
        if item.kind == "schedule":
            preview = preview_schedule(ctx.definitions, ctx.storage, name, now=_now())
        else:
            preview = preview_sensor(ctx.definitions, ctx.storage, name, now=_now())
    except Exception as err:
        # The user's function raised: show it as the daemon would record it, not as a 500.
        raise HTTPException(
            status_code=422, detail=f"{item.kind} {name!r} raised {type(err).__name__}: {err}"
        ) from None
    return preview_json(preview)
