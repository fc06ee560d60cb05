"""``/api/resources`` (secrets by name only) and ``/api/partitions/{name}`` (dynamic keys)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from raystra.web._auth import require
from raystra.web._context import WebContext, web_context
from raystra.web._serialize import json_safe

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["definitions"], dependencies=[Depends(require("viewer"))])
Context = Annotated[WebContext, Depends(web_context)]


class DynamicPartitionsChange(BaseModel):
    """Keys to add to and remove from a dynamic partitions definition."""

    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


def _fields(resource: Any) -> dict[str, Any]:
    """A resource's configured fields; `EnvVar` fields appear as the variable's name only."""
    dump = getattr(resource, "model_dump", None)
    if callable(dump):
        # Plain dump, not mode="json": EnvVar must stay an EnvVar for json_safe to spot it.
        values = {name: getattr(resource, name) for name in type(resource).model_fields}
        return dict(json_safe(values))
    if dataclasses.is_dataclass(resource) and not isinstance(resource, type):
        return dict(
            json_safe({f.name: getattr(resource, f.name) for f in dataclasses.fields(resource)})
        )
    return {}


@router.get("/resources")
def list_resources(ctx: Context) -> dict[str, Any]:
    """The definitions' resources: key, class and fields (secrets as ``{"env_var": NAME}``)."""
    return {
        "resources": [
            {
                "key": key,
                "class": f"{type(resource).__module__}.{type(resource).__qualname__}",
                "fields": _fields(resource),
            }
            for key, resource in sorted(ctx.definitions.resources.items())
        ]
    }


@router.get("/partitions/{name}")
def dynamic_partitions(ctx: Context, name: str) -> dict[str, Any]:
    """Keys of the dynamic partitions definition ``name``."""
    return {"name": name, "keys": ctx.storage.get_dynamic_partitions(name)}


@router.post("/partitions/{name}", dependencies=[Depends(require("editor"))])
def change_dynamic_partitions(
    ctx: Context, name: str, body: DynamicPartitionsChange
) -> dict[str, Any]:
    """Add and remove keys of a dynamic partitions definition (editor role)."""
    added = ctx.storage.add_dynamic_partitions(name, body.add) if body.add else []
    removed = ctx.storage.remove_dynamic_partitions(name, body.remove) if body.remove else []
    return {
        "name": name,
        "added": added,
        "removed": removed,
        "keys": ctx.storage.get_dynamic_partitions(name),
    }
