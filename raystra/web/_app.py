"""The app factory: one FastAPI app serving the JSON API, its OpenAPI docs and the UI.

Each API area is one `APIRouter` in its own module, listed in `ROUTER_MODULES`; adding an
area (schedules and sensors, say) is a module with a ``router`` and one line here.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from raystra.definitions import Definitions
from raystra.definitions._home import raystra_home
from raystra.errors import RaystraError, RunNotFoundError, UnknownAssetError
from raystra.storage import configured_storage_url, open_storage
from raystra.web._context import WebContext
from raystra.web._launcher import LaunchError, RunLauncher
from raystra.web._tokens import TokenStore

__all__ = ["ROUTER_MODULES", "create_app", "storage_url"]

_log = logging.getLogger(__name__)

# The page router comes last: its catch-all serves the UI's client-side routes.
ROUTER_MODULES = (
    "raystra.web._asset_routes",
    "raystra.web._run_routes",
    "raystra.web._backfill_routes",
    "raystra.web._automation_routes",
    "raystra.web._definition_routes",
    "raystra.web._auth_routes",
    "raystra.web._pages",
)


def storage_url(url: str | None = None) -> str:
    """The run storage URL the server uses: ``url``, else the CLI's (`configured_storage_url`,
    else SQLite in ``RAYSTRA_HOME``)."""
    return url or configured_storage_url() or f"sqlite:///{raystra_home() / 'raystra.db'}"


def create_app(
    definitions: Definitions,
    *,
    storage_url: str | None = None,
    launch_target: Sequence[str] | None = None,
    launch_env: Mapping[str, str] | None = None,
    auth: bool = False,
    trace_url: str | None = None,
) -> FastAPI:
    """The raystra web app over ``definitions`` and the run storage the CLI uses.

    Args:
        definitions: The project's definitions (what the asset graph shows).
        storage_url: Run storage; default as the CLI (``RAYSTRA_STORAGE_URL``, ...).
        launch_target: CLI arguments naming the definitions for launched runs
            (``["-m", "my_project.definitions"]``); None: the server cannot launch runs.
        launch_env: Extra environment for launched runs (``RAYSTRA_EXECUTOR``, ``RAY_ADDRESS``).
        auth: Require a token on every page and API call (see `raystra.web._auth`).
        trace_url: Link template for trace ids (default ``RAYSTRA_TRACE_URL``).

    Example:
        >>> from fastapi.testclient import TestClient  # doctest: +SKIP
        >>> client = TestClient(create_app(defs, launch_target=["-f", "defs.py"]))
        >>> client.get("/api/assets").json()["groups"]  # doctest: +SKIP
        ['default']
    """
    url = _resolve_url(storage_url)
    storage = open_storage(url)
    tokens = TokenStore(url)
    launcher = (
        RunLauncher(
            launch_target,
            storage=storage,
            log_dir=raystra_home() / "web" / "launches",
            env=launch_env,
        )
        if launch_target is not None
        else None
    )
    context = WebContext(
        definitions=definitions,
        storage=storage,
        launcher=launcher,
        tokens=tokens,
        auth=auth,
    )
    if trace_url is not None:
        context.trace_url = trace_url

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # Launched runs are processes of their own and keep going (their heartbeats and the
        # monitor keep their status honest); only the server's connections close.
        storage.close()
        tokens.close()

    app = FastAPI(
        title="raystra",
        summary="Assets, runs, partitions and backfills of a raystra project.",
        version=_version(),
        # Schema and docs are served by raystra.web._pages, behind auth when it is on.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.raystra = context
    app.add_exception_handler(RaystraError, _raystra_error)
    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    return app


def _resolve_url(url: str | None) -> str:
    return storage_url(url)


def _version() -> str:
    import raystra

    return str(raystra.__version__)


async def _raystra_error(request: Request, exc: Exception) -> JSONResponse:
    """raystra's own errors carry a message naming the culprit and the fix: send it."""
    status = 400
    if isinstance(exc, RunNotFoundError | UnknownAssetError):
        status = 404
    elif isinstance(exc, LaunchError):
        status = 500
    detail: Any = str(exc)
    return JSONResponse(status_code=status, content={"detail": detail})
