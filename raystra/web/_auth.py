"""Access control: who a request is, what their role allows, and CSRF protection.

Off by default (a server on 127.0.0.1 for one developer): every request acts as an admin.
With ``raystra ui --auth`` every page and API call needs a token, sent as
``Authorization: Bearer <token>`` or as the session cookie set by ``POST /api/login``.
Roles are ordered viewer < launcher < editor < admin; a route names the least role it needs.

State-changing calls (POST, PUT, PATCH, DELETE) are also checked against cross-site request
forgery: a browser request from another origin (its ``Origin`` header) is refused, and a call
authenticated by the session cookie must carry header ``X-CSRF-Token`` equal to the
``raystra_csrf`` cookie (the double-submit pattern; another site can neither read the cookie
nor set the header). Bearer tokens are not sent by browsers on their own, so they need no
CSRF token.

Example:
    >>> @router.post("/api/thing", dependencies=[Depends(require("launcher"))])
    ... def thing() -> dict: ...  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

from raystra.web._context import WebContext
from raystra.web._tokens import ROLES, check_role

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Principal",
    "authenticate",
    "ensure_csrf_cookie",
    "require",
    "set_session",
]

SESSION_COOKIE = "raystra_session"
CSRF_COOKIE = "raystra_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """Who sent a request: user name (None with auth off), role, and how they proved it."""

    user: str | None
    role: str
    via: str  # "none" (auth off), "bearer" or "cookie"

    def allows(self, role: str) -> bool:
        """True when this principal's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _context(request: Request) -> WebContext:
    context = request.app.state.raystra
    assert isinstance(context, WebContext)
    return context


def authenticate(request: Request) -> Principal | None:
    """The request's principal, or None when auth is on and no valid token came with it."""
    ctx = _context(request)
    if not ctx.auth:
        return Principal(user=None, role="admin", via="none")
    assert ctx.tokens is not None
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        user = ctx.tokens.verify(credentials.strip())
        return Principal(user.name, user.role, "bearer") if user else None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        user = ctx.tokens.verify(cookie)
        return Principal(user.name, user.role, "cookie") if user else None
    return None


def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method in _SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(
            status_code=403,
            detail=f"Cross-site request refused: Origin {origin!r} is not this server.",
        )
    if principal.via != "cookie":
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie, header):
        raise HTTPException(
            status_code=403,
            detail=f"Missing or invalid CSRF token: send header {CSRF_HEADER} with the value "
            f"of cookie {CSRF_COOKIE} (or authenticate with an Authorization: Bearer token).",
        )


def require(role: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency admitting principals with at least ``role`` (401/403 otherwise).

    Example:
        >>> router = APIRouter(dependencies=[Depends(require("viewer"))])  # doctest: +SKIP
    """
    check_role(role)

    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="This raystra server requires a token: send Authorization: Bearer "
                "<token>, or log in at /login. An admin creates tokens with `raystra ui token "
                "create --user NAME --role ROLE`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.allows(role):
            raise HTTPException(
                status_code=403,
                detail=f"User {principal.user!r} has role {principal.role!r}; this needs "
                f"{role!r} or above ({' < '.join(ROLES)}).",
            )
        _check_csrf(request, principal)
        return principal

    return dependency


def ensure_csrf_cookie(request: Request, response: Response) -> str:
    """The request's CSRF cookie value, setting a fresh one on ``response`` if it had none."""
    value = request.cookies.get(CSRF_COOKIE)
    if not value:
        value = secrets.token_urlsafe(32)
        # Readable by the page's script (it copies it into the header), never sent cross-site.
        response.set_cookie(CSRF_COOKIE, value, samesite="strict", path="/")
    return value


def set_session(response: Response, token: str) -> str:
    """Log in: the session cookie (HttpOnly) and a new CSRF cookie; returns the CSRF value."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/")
    csrf = secrets.token_urlsafe(32)
    response.set_cookie(CSRF_COOKIE, csrf, samesite="strict", path="/")
    return csrf
