"""The single-page UI at ``/`` (and its client-side routes), ``/static/``, ``/login`` and the
API docs; with auth on, each needs a token like the API (``/?token=...`` logs in)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)

from raystra.web._auth import authenticate, ensure_csrf_cookie, require, set_session
from raystra.web._context import WebContext, web_context

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(web_context)]

_LOGIN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>raystra: log in</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;margin:.5rem 0}button{padding:.5rem 1rem}
.error{color:#b00020}</style></head>
<body><h1>raystra</h1><p>This server requires a token. An admin creates one with
<code>raystra ui token create --user NAME --role ROLE</code>.</p>
<form id="login"><label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Log in</button><p class="error" id="error">{error}</p></form>
<script>
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/login", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token: document.getElementById("token").value})});
  if (response.ok) { window.location.reload(); }
  else { document.getElementById("error").textContent = (await response.json()).detail; }
});
</script></body></html>
"""

_PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>raystra</title></head>
<body><h1>raystra</h1><p>The web UI's files are not installed (no
<code>raystra/web/static/index.html</code>). The JSON API works:
see <a href="/api/docs">/api/docs</a>.</p></body></html>
"""


def _login_page(error: str = "") -> HTMLResponse:
    return HTMLResponse(_LOGIN.replace("{error}", html.escape(error)), status_code=401)


@router.get("/login")
def login_page() -> HTMLResponse:
    """The login form (also shown in place of any page while not logged in)."""
    return _login_page()


@router.get("/api/docs")
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI over ``/api/openapi.json``."""
    if authenticate(request) is None:
        return _login_page()
    return get_swagger_ui_html(openapi_url="/api/openapi.json", title="raystra API")


@router.get("/api/openapi.json", dependencies=[Depends(require("viewer"))])
def openapi_schema(request: Request) -> JSONResponse:
    """The API's OpenAPI schema (what ``/api/docs`` renders)."""
    return JSONResponse(request.app.openapi())


@router.get("/static/{path:path}", dependencies=[Depends(require("viewer"))])
def static_file(path: str) -> FileResponse:
    """A file of the UI (scripts, styles, vendored libraries)."""
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status_code=404, detail=f"No static file {path!r}.")
    return FileResponse(target)


@router.get("/")
@router.get("/{path:path}")
def page(ctx: Context, request: Request, path: str = "") -> Response:
    """The UI's page for any client-side route (``/assets/raw/orders``, ``/runs/ID``)."""
    if path.startswith("api/"):
        raise HTTPException(status_code=404, detail=f"No API route /{path}.")
    token = request.query_params.get("token")
    if ctx.auth and token:
        assert ctx.tokens is not None
        if ctx.tokens.verify(token) is None:
            return _login_page("That token is not valid (or was revoked).")
        # Logged in by link: keep the token out of the address bar and history.
        redirect = RedirectResponse(url=f"/{path}", status_code=303)
        set_session(redirect, token)
        return redirect
    if authenticate(request) is None:
        return _login_page()
    index = STATIC_DIR / "index.html"
    response: Response = (
        FileResponse(index, media_type="text/html")
        if index.is_file()
        else HTMLResponse(_PLACEHOLDER)
    )
    ensure_csrf_cookie(request, response)
    return response
