"""``raystra ui --auth`` in a real browser: no token, a sign-in prompt and refused API calls;
a viewer reads but has no launch buttons and is refused a launch; a launcher launches."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import Server, create_token, shot

pytestmark = __import__("pytest").mark.integration

RUN_TIMEOUT_MS = 120_000

# The page's own fetch, with the session cookie and the CSRF header the UI sends.
_POST_AS_PAGE = """async (body) => {
  const csrf = document.cookie.split("; ").find((c) => c.startsWith("raystra_csrf="));
  const resp = await fetch("/api/runs", {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json",
              "X-CSRF-Token": csrf ? decodeURIComponent(csrf.split("=")[1]) : ""},
    body: JSON.stringify(body)});
  return {status: resp.status, detail: (await resp.json()).detail};
}"""


def test_sign_in_prompt_viewer_refused_launcher_launches(auth_server: Server, page: Any) -> None:
    # No token: every page is the sign-in prompt, every API call is refused.
    page.goto(auth_server.url + "/#/assets/orders")
    assert "This server requires a token" in page.inner_text("body")
    assert page.locator('input[name="token"]').is_visible()
    assert page.request.get(auth_server.url + "/api/assets").status == 401
    assert page.request.get(auth_server.url + "/static/js/main.js").status == 401
    refused = page.request.post(auth_server.url + "/api/runs", data={"selection": "orders"})
    assert refused.status == 401
    shot(page, "50-auth-sign-in")

    viewer = create_token(auth_server, "vera", "viewer")
    page.fill('input[name="token"]', "rst_not_a_token")
    page.click('button[type="submit"]')
    page.get_by_text("That token is not valid").wait_for()
    page.fill('input[name="token"]', viewer)
    page.click('button[type="submit"]')
    page.locator(".who").wait_for()
    assert page.locator(".who").inner_text() == "vera · viewer"
    page.get_by_text("Orders as they land from the shop.").wait_for()
    # A viewer reads everything but is offered no launch, and the server refuses one anyway.
    assert page.get_by_role("button", name="Materialize…").count() == 0
    assert page.get_by_role("button", name="Launch…").count() == 0
    answer = page.evaluate(_POST_AS_PAGE, {"selection": "orders"})
    assert answer["status"] == 403
    assert "'viewer'" in answer["detail"] and "launcher" in answer["detail"]
    shot(page, "51-auth-viewer")

    page.get_by_role("button", name="Sign out").click()
    page.locator('input[name="token"]').wait_for()
    assert page.request.get(auth_server.url + "/api/assets").status == 401

    # A launcher, logged in by link: the token leaves the address bar; launching works.
    launcher = create_token(auth_server, "lars", "launcher")
    page.goto(auth_server.url + f"/?token={launcher}#/assets/orders")
    page.locator(".who").wait_for()
    assert launcher not in page.url
    assert page.locator(".who").inner_text() == "lars · launcher"
    page.get_by_role("button", name="Materialize…").click()
    page.get_by_role("dialog", name="Launch").get_by_role("button", name="Launch run").click()
    page.wait_for_url(re.compile(r"#/runs/[0-9a-f-]{36}$"))
    status = page.get_by_test_id("run-status")
    status.locator(".badge.ok, .badge.fail").wait_for(timeout=RUN_TIMEOUT_MS)
    assert status.inner_text() == "success"
    shot(page, "52-auth-launcher-run")
