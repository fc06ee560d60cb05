"""Web users and their API tokens, in the run database (tables ``web_users``/``web_tokens``).

A token reads ``rst_<id>_<secret>``; only the SHA-256 of the secret is stored. The secret is
32 random bytes, so a fast hash is enough (slow password hashes exist for guessable
passwords); comparison is constant-time.

Example:
    >>> store = TokenStore("sqlite:////tmp/raystra-doc/raystra.db")  # doctest: +SKIP
    >>> token = store.create_token("ana", role="admin")  # doctest: +SKIP
    >>> store.verify(token).role  # doctest: +SKIP
    'admin'
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, or_, select
from sqlalchemy.exc import IntegrityError

from raystra.errors import RaystraError
from raystra.storage._engine import create_engine, parse_url, upgrade_to_head, write_transaction
from raystra.storage._schema import web_tokens, web_users

__all__ = ["LAST_USED_EVERY_S", "ROLES", "TokenInfo", "TokenStore", "UserInfo", "check_role"]

# Each role can do everything the ones before it can.
ROLES = ("viewer", "launcher", "editor", "admin")
_PREFIX = "rst_"
# How often a token's ``last_used_at`` is refreshed while it is in use (seconds).
LAST_USED_EVERY_S = 60.0


def check_role(role: str) -> str:
    """``role`` if it is one of `ROLES`, else a `RaystraError` listing them."""
    if role not in ROLES:
        raise RaystraError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    return role


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class UserInfo:
    """A web user and their role."""

    name: str
    role: str
    created_at: float


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never its secret)."""

    token_id: str
    user: str
    description: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


class TokenStore:
    """Users and hashed tokens in the run database at ``url``.

    Example:
        >>> TokenStore("sqlite:////tmp/raystra-doc/raystra.db").users()  # doctest: +SKIP
        []
    """

    def __init__(self, url: str) -> None:
        parsed = parse_url(url)
        self._engine = create_engine(parsed)
        upgrade_to_head(self._engine, parsed)

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    def set_user(self, name: str, role: str) -> UserInfo:
        """Create user ``name`` with ``role``, or change an existing user's role."""
        check_role(role)
        if not name.strip():
            raise RaystraError("A user needs a name, e.g. --user ana.")

        def write(conn: Connection) -> None:
            updated = conn.execute(
                web_users.update().where(web_users.c.name == name).values(role=role)
            )
            if updated.rowcount == 0:
                conn.execute(
                    web_users.insert(), {"name": name, "role": role, "created_at": time.time()}
                )

        write_transaction(self._engine, write)
        return self.user(name)

    def user(self, name: str) -> UserInfo:
        """The user called ``name``; `RaystraError` if there is none."""
        with self._engine.connect() as conn:
            row = conn.execute(select(web_users).where(web_users.c.name == name)).first()
        if row is None:
            raise RaystraError(
                f"No web user {name!r}; `raystra ui token create --user {name} "
                "--role viewer` creates one."
            )
        return UserInfo(row.name, row.role, row.created_at)

    def users(self) -> list[UserInfo]:
        """Every user, by name."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(web_users).order_by(web_users.c.name))
            return [UserInfo(r.name, r.role, r.created_at) for r in rows]

    def delete_user(self, name: str) -> None:
        """Remove a user and every token of theirs."""
        self.user(name)

        def write(conn: Connection) -> None:
            conn.execute(web_tokens.delete().where(web_tokens.c.user_name == name))
            conn.execute(web_users.delete().where(web_users.c.name == name))

        write_transaction(self._engine, write)

    def create_token(self, user: str, *, role: str | None = None, description: str = "") -> str:
        """A new token for ``user`` (created with ``role`` if new); shown only this once."""
        if role is not None:
            self.set_user(user, role)
        else:
            self.user(user)
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        values: dict[str, Any] = {
            "token_id": token_id,
            "user_name": user,
            "secret_hash": _hash(secret),
            "description": description[:255],
            "created_at": time.time(),
        }
        try:
            write_transaction(self._engine, lambda conn: conn.execute(web_tokens.insert(), values))
        except IntegrityError as err:  # the user was deleted meanwhile
            raise RaystraError(f"Could not create a token for {user!r}: {err}") from err
        return f"{_PREFIX}{token_id}_{secret}"

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Tokens (all, or one user's), newest first."""
        query = select(web_tokens).order_by(web_tokens.c.created_at.desc())
        if user is not None:
            query = query.where(web_tokens.c.user_name == user)
        with self._engine.connect() as conn:
            return [
                TokenInfo(
                    r.token_id,
                    r.user_name,
                    r.description,
                    r.created_at,
                    r.last_used_at,
                    r.revoked_at,
                )
                for r in conn.execute(query)
            ]

    def revoke(self, token_id: str) -> bool:
        """Revoke a token; False if there is no such (unrevoked) token."""
        statement = (
            web_tokens.update()
            .where(web_tokens.c.token_id == token_id, web_tokens.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
        result = write_transaction(self._engine, lambda conn: conn.execute(statement))
        return bool(result.rowcount)

    def verify(self, token: str) -> UserInfo | None:
        """The user a valid, unrevoked token belongs to; None for anything else."""
        if not token.startswith(_PREFIX):
            return None
        token_id, _, secret = token[len(_PREFIX) :].partition("_")
        if not token_id or not secret:
            return None
        query = (
            select(
                web_tokens.c.secret_hash,
                web_tokens.c.revoked_at,
                web_tokens.c.last_used_at,
                web_users,
            )
            .join(web_users, web_users.c.name == web_tokens.c.user_name)
            .where(web_tokens.c.token_id == token_id)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.secret_hash, _hash(secret)):
            return None
        now = time.time()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY_S:
            self._touch(token_id, now)
        return UserInfo(row.name, row.role, row.created_at)

    def _touch(self, token_id: str, now: float) -> None:
        # Every page load makes a dozen API calls: writing each would queue them all behind
        # SQLite's single writer, so last use is recorded at most once a minute per token
        # (the WHERE keeps several servers from writing it twice in that minute).
        statement = (
            web_tokens.update()
            .where(
                web_tokens.c.token_id == token_id,
                or_(
                    web_tokens.c.last_used_at.is_(None),
                    web_tokens.c.last_used_at <= now - LAST_USED_EVERY_S,
                ),
            )
            .values(last_used_at=now)
        )
        write_transaction(self._engine, lambda conn: conn.execute(statement))
