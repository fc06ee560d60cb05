"""What every request handler reads: the definitions, run storage, launcher and settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from raystra.api._monitor import check_for_dead_runs
from raystra.definitions import Definitions
from raystra.storage import RunStorage

if TYPE_CHECKING:
    from raystra.web._launcher import RunLauncher
    from raystra.web._tokens import TokenStore

__all__ = ["WebContext", "web_context"]


@dataclass(kw_only=True)
class WebContext:
    """The server's shared state, one per app (``app.state.raystra``).

    ``trace_url`` is a template with ``{trace_id}`` (``RAYSTRA_TRACE_URL``, as for
    ``raystra runs show``), e.g. ``http://localhost:16686/trace/{trace_id}`` for Jaeger.

    Example:
        >>> WebContext(definitions=defs, storage=storage, launcher=None)  # doctest: +SKIP
    """

    definitions: Definitions
    storage: RunStorage
    launcher: RunLauncher | None
    tokens: TokenStore | None = None
    auth: bool = False
    trace_url: str | None = field(default_factory=lambda: os.environ.get("RAYSTRA_TRACE_URL"))
    extras: dict[str, Any] = field(default_factory=dict)  # for routers others add

    def trace_link(self, trace_id: str | None) -> str | None:
        """The tracing backend's page for ``trace_id``, when a template is configured."""
        if not trace_id or not self.trace_url or "{trace_id}" not in self.trace_url:
            return None
        return self.trace_url.replace("{trace_id}", trace_id)


def web_context(request: Request) -> WebContext:
    """FastAPI dependency: the app's `WebContext`.

    Example:
        >>> @router.get("/api/thing")  # doctest: +SKIP
        ... def thing(ctx: WebContext = Depends(web_context)) -> dict: ...
    """
    context = request.app.state.raystra
    assert isinstance(context, WebContext)
    # As every CLI command does: runs whose driver died are failed before anyone reads them
    # (rate-limited to once every few seconds per process).
    check_for_dead_runs(context.storage)
    return context
