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
    """A resource's configured fields; a field given as `EnvVar` shows the variable's name
    only (``{"env_var": NAME}``), even where validation already made it a plain ``str``."""
    if dataclasses.is_dataclass(resource) and not isinstance(resource, type):
        names = [f.name for f in dataclasses.fields(resource)]
    else:
        names = list(getattr(type(resource), "model_fields", {}))
    fields = {name: json_safe(getattr(resource, name)) for name in names}
    for label, variable in getattr(resource, "env_var_fields", {}).items():
        # Inside a dict or list field the value already is the variable's name (definitions
        # never hold a secret's value); ``env_vars`` lists those paths.
        if label in fields:
            fields[label] = {"env_var": variable}
    return fields


def _env_vars(resource: Any) -> dict[str, str]:
    return dict(getattr(resource, "env_var_fields", {}))


@router.get("/resources")
def list_resources(ctx: Context) -> dict[str, Any]:
    """The definitions' resources: key, class and fields; secrets appear as
    ``{"env_var": NAME}``, and ``env_vars`` maps each field path given as `EnvVar` to its
    variable. No value of an `EnvVar` is ever sent."""
    return {
        "resources": [
            {
                "key": key,
                "class": f"{type(resource).__module__}.{type(resource).__qualname__}",
                "fields": _fields(resource),
                "env_vars": _env_vars(resource),
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
