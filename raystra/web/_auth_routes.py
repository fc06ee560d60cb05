"""``/api/me``, ``/api/login``/``logout`` and, for admins, ``/api/users`` and ``/api/tokens``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from raystra.web._auth import (
    SESSION_COOKIE,
    Principal,
    authenticate,
    ensure_csrf_cookie,
    require,
    set_session,
)
from raystra.web._context import WebContext, web_context
from raystra.web._tokens import ROLES, TokenStore

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["access"])
Context = Annotated[WebContext, Depends(web_context)]
Admin = Annotated[Principal, Depends(require("admin"))]


class LoginRequest(BaseModel):
    """A token to log in with."""

    token: str


class UserRequest(BaseModel):
    """A user to create, or whose role to change."""

    name: str = Field(min_length=1, max_length=255)
    role: str = Field(description=" < ".join(ROLES))


class TokenRequest(BaseModel):
    """A new token for a user."""

    description: str = Field(default="", max_length=255)


def _store(ctx: WebContext) -> TokenStore:
    if ctx.tokens is None:
        raise HTTPException(status_code=503, detail="This server has no token store.")
    return ctx.tokens


@router.get("/me")
def me(request: Request, response: Response) -> dict[str, Any]:
    """Whether auth is on, who you are and your role (null when not logged in)."""
    ctx = web_context(request)
    principal = authenticate(request)
    csrf = ensure_csrf_cookie(request, response)
    return {
        "auth": ctx.auth,
        "user": principal.user if principal else None,
        "role": principal.role if principal else None,
        "roles": list(ROLES),
        "csrf_token": csrf,
    }


@router.post("/login")
def login(ctx: Context, body: LoginRequest, response: Response) -> dict[str, Any]:
    """Check a token and set the session cookie (and a CSRF cookie) for the browser."""
    if not ctx.auth:
        return {"auth": False, "user": None, "role": "admin"}
    user = _store(ctx).verify(body.token.strip())
    if user is None:
        raise HTTPException(status_code=401, detail="That token is not valid (or was revoked).")
    csrf = set_session(response, body.token.strip())
    return {"auth": True, "user": user.name, "role": user.role, "csrf_token": csrf}


@router.post("/logout")
def logout(response: Response) -> dict[str, Any]:
    """Drop the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"logged_out": True}


@router.get("/users")
def list_users(ctx: Context, _: Admin) -> dict[str, Any]:
    """Every user with their role and tokens (ids and descriptions, never secrets)."""
    store = _store(ctx)
    tokens = store.tokens()
    return {
        "users": [
            {
                "name": u.name,
                "role": u.role,
                "created_at": u.created_at,
                "tokens": [
                    {
                        "token_id": t.token_id,
                        "description": t.description,
                        "created_at": t.created_at,
                        "revoked": t.revoked_at is not None,
                    }
                    for t in tokens
                    if t.user == u.name
                ],
            }
            for u in store.users()
        ]
    }


@router.post("/users", status_code=201)
def put_user(ctx: Context, body: UserRequest, _: Admin) -> dict[str, Any]:
    """Create a user, or change a user's role."""
    user = _store(ctx).set_user(body.name, body.role)
    return {"name": user.name, "role": user.role}


@router.delete("/users/{name}")
def delete_user(ctx: Context, name: str, _: Admin) -> dict[str, Any]:
    """Remove a user and revoke all their tokens."""
    _store(ctx).delete_user(name)
    return {"deleted": name}


@router.post("/users/{name}/tokens", status_code=201)
def create_token(ctx: Context, name: str, body: TokenRequest, _: Admin) -> dict[str, Any]:
    """A new token for the user; the response is the only time it is shown."""
    store = _store(ctx)
    token = store.create_token(name, description=body.description)
    return {"user": name, "token": token}


@router.delete("/tokens/{token_id}")
def revoke_token(ctx: Context, token_id: str, _: Admin) -> dict[str, Any]:
    """Revoke a token: it stops working at once."""
    if not _store(ctx).revoke(token_id):
        raise HTTPException(status_code=404, detail=f"No active token {token_id!r}.")
    return {"revoked": token_id}
