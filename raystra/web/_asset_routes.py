"""``/api/assets`` and ``/api/selection``: the asset graph, one asset, its partitions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from raystra.api import asset_partition_status
from raystra.definitions import AssetKey, AssetSpec, Definitions
from raystra.planning import AssetSelection
from raystra.web._asset_state import asset_states, running_partitions
from raystra.web._auth import require
from raystra.web._context import WebContext, web_context
from raystra.web._serialize import (
    json_safe,
    key_string,
    materialization_json,
    partitions_def_json,
)

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["assets"], dependencies=[Depends(require("viewer"))])

Context = Annotated[WebContext, Depends(web_context)]

# One letter per partition in ``/partitions``: 100,000 partitions cost 100 kB, not megabytes.
PARTITION_LEGEND = {"m": "missing", "f": "fresh", "s": "stale", "x": "failed", "r": "running"}
_LETTER = {state: letter for letter, state in PARTITION_LEGEND.items()}


def asset_key_or_404(definitions: Definitions, key: str) -> AssetKey:
    """The `AssetKey` of a path's ``raw/orders``, or 404 naming the closest keys."""
    asset_key = AssetKey.from_user_string(key)
    if not definitions.has_asset(asset_key):
        raise HTTPException(
            status_code=404,
            detail=f"No asset {key!r} in the definitions. GET /api/assets lists the asset keys.",
        )
    return asset_key


def _definition_fields(definitions: Definitions, key: AssetKey) -> dict[str, Any]:
    definition = definitions.get_definition(key)
    if isinstance(definition, AssetSpec):
        return {
            "kind": "external",
            "description": definition.description,
            "metadata": json_safe(definition.metadata),
            "code_version": None,
            "io_manager_key": definition.io_manager_key,
        }
    output = definition.output_for_key(key)
    return {
        "kind": "asset",
        "description": output.description or definition.description,
        "metadata": json_safe(output.metadata),
        "code_version": output.code_version,
        "io_manager_key": output.io_manager_key,
    }


@router.get("/assets")
def list_assets(ctx: Context) -> dict[str, Any]:
    """Every asset with its group, dependencies, state and newest materialization.

    ``state`` is fresh, stale, missing, failed or running; partitioned assets add
    ``partition_counts``. Assets come in topological order.
    """
    defs = ctx.definitions
    graph = defs.asset_graph
    keys = list(defs.topological_keys)
    latest = ctx.storage.latest_materializations(keys)
    states = asset_states(defs, ctx.storage, keys)
    assets = []
    for key in keys:
        fields = _definition_fields(defs, key)
        partitions_def = defs.partitions_def_for(key)
        state = states[key]
        record = latest.get(key)
        assets.append(
            {
                "key": key_string(key),
                "group": graph.group_of(key),
                "description": fields["description"],
                "deps": sorted(key_string(k) for k in graph.parents.get(key, ())),
                "code_version": fields["code_version"],
                "partitioned": partitions_def is not None,
                "partitions_def": partitions_def_json(partitions_def),
                "kind": fields["kind"],
                "state": state.state,
                "partition_counts": state.counts() if partitions_def is not None else None,
                "last_materialization": materialization_json(record) if record else None,
            }
        )
    return {"assets": assets, "groups": sorted({graph.group_of(k) for k in keys})}


@router.get("/selection")
def resolve_selection(
    ctx: Context, q: Annotated[str, Query(description="A selection: '+report', 'group:raw'")]
) -> dict[str, Any]:
    """The asset keys a selection string matches (the CLI's ``--select`` syntax), in
    topological order; 400 with the parser's message when it does not parse."""
    keys = AssetSelection.from_string(q).resolve(ctx.definitions.asset_graph)
    return {"keys": [key_string(k) for k in ctx.definitions.topological_keys if k in keys]}


@router.get("/assets/{key:path}/partitions")
def asset_partitions(ctx: Context, key: str) -> dict[str, Any]:
    """Every partition of an asset and its state, compactly.

    ``keys`` lists partition keys in definition order; ``states`` has one letter per key (see
    ``legend``: m missing, f fresh, s stale, x failed, r running: a run in progress is still
    to finish it). ``counts`` totals each state.
    """
    asset_key = asset_key_or_404(ctx.definitions, key)
    definition = ctx.definitions.partitions_def_for(asset_key)
    if definition is None:
        raise HTTPException(
            status_code=400,
            detail=f"Asset {key!r} is not partitioned; GET /api/assets/{key} has its state.",
        )
    status = asset_partition_status(
        ctx.definitions, asset_key, ctx.storage, current_time=datetime.now(UTC)
    )
    letters: dict[str | None, str] = {}
    for state, partition_keys in status.keys.items():
        letter = _LETTER[state]
        for partition in partition_keys:
            letters[partition] = letter
    running = running_partitions(ctx.definitions, ctx.storage, asset_key)
    for partition in running:
        letters[partition] = "r"
    all_keys = [k for k in status.all_keys if k is not None]
    return {
        "key": key,
        "partitions_def": partitions_def_json(definition, count=len(all_keys)),
        "keys": all_keys,
        "states": "".join(letters.get(k, "m") for k in all_keys),
        "legend": PARTITION_LEGEND,
        "counts": {**status.counts, "running": len(running)},
    }


@router.get("/assets/{key:path}/checks")
def asset_checks(
    ctx: Context,
    key: str,
    limit: Annotated[int, Query(ge=1, le=1000, description="History entries to return")] = 100,
) -> dict[str, Any]:
    """An asset's checks: each defined check with its newest result (per partition when the
    asset is partitioned: ``partitions`` maps partition key to result), and the history of
    results, newest first. A check that never ran has ``latest: null``."""
    defs = ctx.definitions
    asset_key = asset_key_or_404(defs, key)
    defined = defs.checks_for(asset_key)
    latest = ctx.storage.latest_check_results([asset_key]).get(asset_key, []) if defined else []
    history = ctx.storage.get_check_results(asset_key, limit=limit) if defined else []
    checks = []
    for check in defined:
        mine = [r for r in latest if r.check_name == check.name]
        newest = max(mine, key=lambda r: r.storage_id, default=None)
        partitioned = [r for r in mine if r.partition is not None]
        checks.append(
            {
                "name": check.name,
                "check_key": check.check_key,
                "description": check.description,
                "blocking": check.blocking,
                "latest": _check_json(newest) if newest is not None else None,
                "partitions": {r.partition: _check_json(r) for r in partitioned}
                if defs.partitions_def_for(asset_key) is not None
                else None,
                "failed_partitions": sorted(str(r.partition) for r in partitioned if not r.passed),
            }
        )
    return {
        "key": key_string(asset_key),
        "checks": checks,
        "history": [_check_json(record) for record in history],
    }


def _check_json(record: Any) -> dict[str, Any]:
    return {
        "check_name": record.check_name,
        "partition": record.partition,
        "run_id": record.run_id,
        "passed": record.passed,
        "severity": record.severity,
        "blocking": record.blocking,
        "blocked": record.blocked,
        "description": record.description,
        "metadata": json_safe(record.metadata),
        "error": record.error,
        "timestamp": record.timestamp,
    }


@router.get("/assets/{key:path}")
def get_asset(
    ctx: Context,
    key: str,
    limit: Annotated[int, Query(ge=1, le=1000, description="Materializations to return")] = 100,
) -> dict[str, Any]:
    """One asset: description, metadata, code version, upstream and downstream assets, its
    state, and its materialization history (newest first) with recorded metadata."""
    defs = ctx.definitions
    asset_key = asset_key_or_404(defs, key)
    graph = defs.asset_graph
    fields = _definition_fields(defs, asset_key)
    partitions_def = defs.partitions_def_for(asset_key)
    state = asset_states(defs, ctx.storage, [asset_key])[asset_key]
    history = ctx.storage.get_materializations(asset_key, limit=limit)
    return {
        "key": key_string(asset_key),
        "group": graph.group_of(asset_key),
        **fields,
        "deps": sorted(key_string(k) for k in graph.parents.get(asset_key, ())),
        "dependents": sorted(key_string(k) for k in graph.children.get(asset_key, ())),
        "partitioned": partitions_def is not None,
        "partitions_def": partitions_def_json(
            partitions_def, count=state.total if partitions_def is not None else None
        ),
        "state": state.state,
        "partition_counts": state.counts() if partitions_def is not None else None,
        "materializations": [materialization_json(record) for record in history],
    }
