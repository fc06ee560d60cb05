"""``/api/backfills``: list, progress, launch, cancel and resume backfills."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from raystra.api import PartitionRequest, cancel_backfill, resolve_selection
from raystra.api._backfill import plan_assets
from raystra.definitions._partitions import PartitionKeyRange
from raystra.errors import NothingToRunError, RaystraError
from raystra.events import AssetMaterialized, PartitionFailed
from raystra.planning import AssetSelection
from raystra.storage import RunStorage
from raystra.storage._backfill_records import RESUMABLE, BackfillRecord
from raystra.web._auth import require
from raystra.web._context import WebContext, web_context
from raystra.web._run_routes import _launcher

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["backfills"], dependencies=[Depends(require("viewer"))])
Context = Annotated[WebContext, Depends(web_context)]


class BackfillRequest(BaseModel):
    """What ``POST /api/backfills`` runs: a selection over a range, a key list, or all."""

    model_config = ConfigDict(populate_by_name=True)

    selection: str = Field(description="Assets, in the CLI's selection syntax.")
    from_: str | None = Field(default=None, alias="from", description="First partition key.")
    to: str | None = Field(default=None, description="Last partition key (included).")
    partitions: list[str] | None = Field(default=None, description="Partition keys.")
    all: bool = Field(default=False, description="Every partition.")
    only: str | None = Field(default=None, description="'missing' or 'stale': only those.")

    @model_validator(mode="after")
    def _one_way(self) -> BackfillRequest:
        ways = sum((self.from_ is not None or self.to is not None, bool(self.partitions), self.all))
        if ways != 1 or ((self.from_ is None) != (self.to is None)):
            raise ValueError(
                'say which partitions with exactly one of: "from" and "to" (a range), '
                '"partitions" (a list of keys) or "all": true'
            )
        if self.only not in (None, "missing", "stale"):
            raise ValueError('"only" must be "missing" or "stale"')
        return self

    def request(self) -> PartitionRequest:
        """As a `PartitionRequest`."""
        if self.from_ is not None and self.to is not None:
            return PartitionRequest(key_range=PartitionKeyRange(self.from_, self.to))
        if self.partitions:
            return PartitionRequest(keys=tuple(self.partitions))
        return PartitionRequest(all=True)


_IN_FLIGHT = ("RUNNING", "CANCELING")
_OUTCOME_KINDS = {AssetMaterialized.kind: "materialized", PartitionFailed.kind: "failed"}


def _live_counts(storage: RunStorage, record: BackfillRecord) -> dict[str, int]:
    """Target counts of a backfill, with what its latest run did so far.

    The stored target statuses change only when the backfill's run ends (or when a resume
    reconciles an interrupted one); the run's materialization and failure events say which
    targets are already done.
    """
    targets = dict(storage.backfill_target_statuses(record.backfill_id))
    run_id = record.run_ids[-1]
    for item in storage.get_events(run_id, kinds=list(_OUTCOME_KINDS)):
        event = item.event
        if not isinstance(event, AssetMaterialized | PartitionFailed):
            continue
        target = (event.asset_key.to_user_string(), event.partition)
        if targets.get(target) in RESUMABLE:
            targets[target] = _OUTCOME_KINDS[event.kind]
    return dict(Counter(targets.values()))


def backfill_json(record: BackfillRecord, storage: RunStorage | None = None) -> dict[str, Any]:
    """A backfill with its progress: target counts by status, done and total.

    With ``storage``, a backfill in flight (or interrupted) counts what its latest run
    finished so far.
    """
    counts = dict(record.counts)
    # In flight, or interrupted before its run settled the targets (Ctrl-C, SIGTERM).
    unsettled = record.status in _IN_FLIGHT or counts.get("requested", 0) > 0
    if storage is not None and unsettled and record.run_ids:
        counts = _live_counts(storage, record)
    done = sum(n for status, n in counts.items() if status not in RESUMABLE)
    return {
        "backfill_id": record.backfill_id,
        "status": record.status,
        "selection": list(record.selection),
        "partitions": dict(record.partitions),
        "run_ids": list(record.run_ids),
        "tags": dict(record.tags),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "counts": counts,
        "total": record.total,
        "done": done,
        "materialized": counts.get("materialized", 0),
    }


def _backfill_or_404(ctx: WebContext, backfill_id: str) -> BackfillRecord:
    try:
        record: BackfillRecord = ctx.storage.get_backfill(backfill_id)
    except RaystraError as err:
        raise HTTPException(status_code=404, detail=str(err)) from None
    return record


@router.get("/backfills")
def list_backfills(ctx: Context, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """Most recent backfills first, with progress."""
    backfills = ctx.storage.list_backfills(limit=limit)
    return {"backfills": [backfill_json(r, ctx.storage) for r in backfills]}


@router.get("/backfills/{backfill_id}")
def get_backfill(ctx: Context, backfill_id: str) -> dict[str, Any]:
    """One backfill and its progress."""
    return backfill_json(_backfill_or_404(ctx, backfill_id), ctx.storage)


@router.post("/backfills", status_code=201, dependencies=[Depends(require("launcher"))])
def launch_backfill(ctx: Context, body: BackfillRequest) -> dict[str, Any]:
    """Backfill partitions of a selection as one run in the background; returns its id once
    recorded (poll ``GET /api/backfills/{id}`` for progress)."""
    launcher = _launcher(ctx)
    defs = ctx.definitions
    keys = resolve_selection(defs, AssetSelection.from_string(body.selection))
    request = body.request()
    plan = plan_assets(defs, keys, request, ctx.storage, only=body.only)
    if not plan.steps:
        raise NothingToRunError("Nothing to backfill: every selected partition is done.")
    backfill_id = uuid.uuid4().hex[:12]
    launch = launcher.launch(
        {
            "kind": "backfill",
            "backfill_id": backfill_id,
            "selection": body.selection,
            "partitions": request.describe(),
            "only": body.only,
        },
        launch_id=backfill_id,
    )
    launcher.wait_until(launch, lambda: _recorded(ctx, backfill_id))
    return {"backfill_id": backfill_id, "targets": sum(len(s.asset_keys) for s in plan.steps)}


def _recorded(ctx: WebContext, backfill_id: str) -> bool:
    try:
        ctx.storage.get_backfill(backfill_id)
    except RaystraError:
        return False
    return True


@router.post(
    "/backfills/{backfill_id}/cancel",
    status_code=202,
    dependencies=[Depends(require("launcher"))],
)
def cancel(ctx: Context, backfill_id: str) -> dict[str, Any]:
    """Stop a running backfill; it ends CANCELED, what it committed stays (resume runs the rest).

    The backfill is marked CANCELING, which its driver checks between steps wherever it runs;
    one this server launched also gets SIGTERM, so a long step stops too.
    """
    record = _backfill_or_404(ctx, backfill_id)
    updated = cancel_backfill(record.backfill_id, storage=ctx.storage)
    if ctx.launcher is not None:
        for launch in ctx.launcher.running():
            if launch.launch_id.split("-resume-")[0] == record.backfill_id:
                ctx.launcher.cancel(launch.launch_id)
    return backfill_json(updated, ctx.storage)


@router.post(
    "/backfills/{backfill_id}/resume",
    status_code=202,
    dependencies=[Depends(require("launcher"))],
)
def resume(ctx: Context, backfill_id: str) -> dict[str, Any]:
    """Run again only the targets that failed, were skipped, canceled or never ran."""
    launcher = _launcher(ctx)
    record = _backfill_or_404(ctx, backfill_id)
    if record.status in ("REQUESTED", "RUNNING", "CANCELING"):
        raise HTTPException(
            status_code=409, detail=f"Backfill {record.backfill_id} is still {record.status}."
        )
    todo = [
        k
        for k, s in ctx.storage.backfill_target_statuses(record.backfill_id).items()
        if s in RESUMABLE
    ]
    if not todo:
        raise HTTPException(
            status_code=400,
            detail=f"Backfill {record.backfill_id} has nothing left to do: every target is "
            "materialized.",
        )
    before = set(record.run_ids)
    launch = launcher.launch(
        {"kind": "resume_backfill", "backfill_id": record.backfill_id},
        launch_id=f"{record.backfill_id}-resume-{uuid.uuid4().hex[:6]}",
    )
    launcher.wait_until(
        launch,
        lambda: bool(set(ctx.storage.get_backfill(record.backfill_id).run_ids) - before),
    )
    return backfill_json(ctx.storage.get_backfill(record.backfill_id), ctx.storage)
