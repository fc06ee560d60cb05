"""Access control with --auth: tokens, each role allowed and refused, CSRF, secrets."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime

import pytest
import sqlalchemy as sa
from conftest import finished_run
from fastapi.testclient import TestClient

from raystra.web import TokenStore, storage_url


@pytest.fixture
def tokens() -> dict[str, str]:
    """One token per role, made the way `raystra ui token create` makes them."""
    store = TokenStore(storage_url())
    try:
        return {
            role: store.create_token(f"{role}-user", role=role)
            for role in ("viewer", "launcher", "editor", "admin")
        }
    finally:
        store.close()


@pytest.fixture
def secured(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(auth=True)


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_a_token_every_page_and_api_call_is_refused(secured: TestClient) -> None:
    for path in ("/api/assets", "/api/runs", "/api/backfills", "/api/openapi.json"):
        response = secured.get(path)
        assert response.status_code == 401, path
        assert "token" in response.json()["detail"]
    assert secured.post("/api/runs", json={"selection": "*"}).status_code == 401
    for page in ("/", "/runs/abc", "/api/docs"):
        response = secured.get(page)
        assert response.status_code == 401
        assert "requires a token" in response.text
    assert secured.get("/static/app.js").status_code == 401
    assert secured.get("/api/assets", headers=_as("rst_bogus_token")).status_code == 401
    me = secured.get("/api/me").json()  # answers, so the UI knows to show the login
    assert (me["auth"], me["user"], me["role"]) == (True, None, None)


def test_viewer_reads_but_cannot_launch(secured: TestClient, tokens: dict[str, str]) -> None:
    viewer = _as(tokens["viewer"])
    assert secured.get("/api/assets", headers=viewer).status_code == 200
    assert secured.get("/api/me", headers=viewer).json()["role"] == "viewer"
    refused = secured.post("/api/runs", json={"selection": "orders"}, headers=viewer)
    assert refused.status_code == 403
    assert "launcher" in refused.json()["detail"]
    assert (
        secured.post(
            "/api/backfills", json={"selection": "daily_sales", "all": True}, headers=viewer
        ).status_code
        == 403
    )
    assert secured.post("/api/runs/x/cancel", headers=viewer).status_code == 403
    assert secured.get("/api/runs", headers=viewer).json()["runs"] == []


def test_launcher_launches_but_cannot_edit_partitions(
    secured: TestClient, tokens: dict[str, str]
) -> None:
    launcher = _as(tokens["launcher"])
    response = secured.post("/api/runs", json={"selection": "orders"}, headers=launcher)
    assert response.status_code == 201, response.text
    run_id = response.json()["run_id"]
    secured.headers.update(launcher)
    assert finished_run(secured, run_id)["status"] == "SUCCESS"
    retry = secured.post(f"/api/runs/{run_id}/reexecute", json={"from_failure": False})
    assert retry.status_code == 201
    refused = secured.post("/api/partitions/regions", json={"add": ["eu"]})
    assert refused.status_code == 403
    assert "editor" in refused.json()["detail"]


def test_editor_edits_dynamic_partitions_but_cannot_manage_users(
    secured: TestClient, tokens: dict[str, str]
) -> None:
    editor = _as(tokens["editor"])
    added = secured.post("/api/partitions/regions", json={"add": ["eu", "us"]}, headers=editor)
    assert added.status_code == 200
    assert added.json()["keys"] == ["eu", "us"]
    assert secured.get("/api/users", headers=editor).status_code == 403
    assert (
        secured.post("/api/users", json={"name": "eve", "role": "admin"}, headers=editor)
    ).status_code == 403


def test_admin_manages_users_and_tokens(secured: TestClient, tokens: dict[str, str]) -> None:
    admin = _as(tokens["admin"])
    created = secured.post("/api/users", json={"name": "ana", "role": "viewer"}, headers=admin)
    assert created.status_code == 201
    token = secured.post("/api/users/ana/tokens", json={"description": "laptop"}, headers=admin)
    new_token = token.json()["token"]
    assert secured.get("/api/me", headers=_as(new_token)).json()["user"] == "ana"
    users = {u["name"]: u for u in secured.get("/api/users", headers=admin).json()["users"]}
    assert users["ana"]["role"] == "viewer"
    token_id = users["ana"]["tokens"][0]["token_id"]
    assert new_token not in secured.get("/api/users", headers=admin).text
    assert secured.delete(f"/api/tokens/{token_id}", headers=admin).status_code == 200
    assert secured.get("/api/assets", headers=_as(new_token)).status_code == 401
    bad_role = secured.post("/api/users", json={"name": "bo", "role": "root"}, headers=admin)
    assert bad_role.status_code == 400
    assert "viewer, launcher, editor, admin" in bad_role.json()["detail"]


def test_tokens_are_stored_hashed(tokens: dict[str, str]) -> None:
    engine = sa.create_engine(storage_url())
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(sa.text("SELECT * FROM web_tokens"))]
    engine.dispose()
    assert len(rows) == 4
    stored = " ".join(str(value) for row in rows for value in row)
    for token in tokens.values():
        secret = token.split("_", 2)[2]  # rst_<id>_<secret>; the secret may hold "_"
        assert secret not in stored
        assert hashlib.sha256(secret.encode()).hexdigest() in stored


def test_cookie_login_needs_the_csrf_token_on_state_changing_calls(
    secured: TestClient, tokens: dict[str, str]
) -> None:
    login = secured.post("/api/login", json={"token": tokens["editor"]})
    assert login.status_code == 200
    csrf = login.json()["csrf_token"]
    assert secured.cookies.get("raystra_csrf") == csrf
    assert secured.get("/api/assets").status_code == 200  # reads need no CSRF token
    assert secured.get("/").status_code == 200

    change = {"add": ["apac"]}
    missing = secured.post("/api/partitions/regions", json=change)
    assert missing.status_code == 403
    assert "CSRF" in missing.json()["detail"]
    wrong = secured.post("/api/partitions/regions", json=change, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    right = secured.post("/api/partitions/regions", json=change, headers={"X-CSRF-Token": csrf})
    assert right.status_code == 200
    cross_site = secured.post(
        "/api/partitions/regions",
        json=change,
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403

    assert secured.post("/api/login", json={"token": "rst_nope_nope"}).status_code == 401


def test_token_in_the_page_link_logs_in_and_leaves_the_address_bar(
    secured: TestClient, tokens: dict[str, str]
) -> None:
    response = secured.get(f"/runs?token={tokens['viewer']}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/runs"
    assert secured.get("/runs").status_code == 200
    assert secured.get("/api/me").json()["user"] == "viewer-user"


def test_auth_off_still_refuses_cross_site_posts(client: TestClient) -> None:
    response = client.post(
        "/api/runs", json={"selection": "orders"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert client.get("/api/me").json()["role"] == "admin"


def test_last_use_of_a_token_is_recorded_at_most_once_a_minute(
    secured: TestClient, tokens: dict[str, str]
) -> None:
    def last_used() -> dict[str, float | None]:
        store = TokenStore(storage_url())
        try:
            return {t.user: t.last_used_at for t in store.tokens()}
        finally:
            store.close()

    assert set(last_used().values()) == {None}
    assert secured.get("/api/assets", headers=_as(tokens["viewer"])).status_code == 200
    first = last_used()["viewer-user"]
    assert first is not None
    assert last_used()["launcher-user"] is None  # only the token that was used

    # Within the minute, more calls leave it as it was (no write per request).
    for _ in range(3):
        assert secured.get("/api/runs", headers=_as(tokens["viewer"])).status_code == 200
    assert last_used()["viewer-user"] == first

    # Once it is older than a minute, the next call refreshes it; so does a session cookie.
    engine = sa.create_engine(storage_url())
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE web_tokens SET last_used_at = last_used_at - 120"))
    engine.dispose()
    assert secured.get("/api/runs", headers=_as(tokens["viewer"])).status_code == 200
    refreshed = last_used()["viewer-user"]
    assert refreshed is not None and refreshed > first - 120
    assert secured.post("/api/login", json={"token": tokens["editor"]}).status_code == 200
    assert secured.get("/api/runs").status_code == 200
    assert last_used()["editor-user"] is not None

    # A refused token records nothing.
    wrong = tokens["admin"][:-4] + "AAAA"
    assert secured.get("/api/runs", headers=_as(wrong)).status_code == 401
    assert last_used()["admin-user"] is None

    # `raystra ui token list` shows it.
    listed = subprocess.run(
        [sys.executable, "-m", "raystra.cli", "ui", "token", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "last used" in listed
    rows = {line.split()[1]: line for line in listed.splitlines() if "-user" in line}
    assert "never" in rows["admin-user"] and "never" not in rows["viewer-user"]
    assert datetime.fromtimestamp(refreshed).strftime("%Y-%m-%d") in rows["viewer-user"]
