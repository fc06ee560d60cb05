"""The asset graph with 2,000 assets in a real browser: it renders, a click on the zoomed-out
canvas opens an asset, the selection search highlights and zooms to what it selects, zoom and
pan work, and a click on a zoomed-in node opens its page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from tests.browser.conftest import Server, shot

pytestmark = __import__("pytest").mark.integration

LAYOUT_TIMEOUT_MS = 120_000  # dagre in a worker on a busy 2-core machine
# Resolves after two animation frames: the hover hit-test runs once a frame.
_TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def _scale(page: Any) -> float:
    return float(page.locator("svg.graph-svg").get_attribute("data-scale"))


def _wait_scale(page: Any, condition: str) -> None:
    """Wait until the view's scale ``k`` satisfies ``condition`` (a JavaScript expression)."""
    page.wait_for_function(
        f"(k => {condition})(Number(document.querySelector('svg.graph-svg').dataset.scale))"
    )


def test_two_thousand_assets_render_search_zoom_and_open(large_server: Server, page: Any) -> None:
    page.goto(large_server.url + "/")
    page.get_by_test_id("layout-info").wait_for(timeout=LAYOUT_TIMEOUT_MS)
    svg = page.locator("svg.graph-svg")
    assert svg.get_attribute("data-nodes") == "2000"
    assert "2,000 assets" in page.get_by_test_id("layout-info").inner_text()
    # AssetSpecs are external: raystra shows them fresh. Ten groups of 200, painted zoomed out.
    assert "2,000" in page.locator(".legend-row", has_text="fresh").inner_text()
    page.wait_for_function("document.querySelector('svg.graph-svg').classList.contains('far')")
    shot(page, "20-large-graph")

    # Zoomed out the assets are pixels on a canvas, yet hovering names one and a click opens
    # it: sweep the pointer across the first group until the hover card names an asset.
    box = page.locator(".graph-box").bounding_box()
    hovered = None
    for step in range(200):
        x = box["x"] + 40 + (step % 40) * 2.5
        y = box["y"] + box["height"] * (0.3 + 0.05 * (step // 40))
        page.mouse.move(x, y)
        page.evaluate(_TWO_FRAMES)
        if page.locator(".hover-card").count():
            hovered = page.locator(".hover-card b").inner_text()
            break
    assert hovered is not None and re.fullmatch(r"a\d+", hovered), "no asset under the sweep"
    assert "over-node" in (svg.get_attribute("class") or "")
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(rf"#/assets/{hovered}$"))
    page.locator("h1", has_text=hovered).wait_for()
    page.go_back()
    page.get_by_test_id("layout-info").wait_for()

    # A group selection: the count is the server's, and the view zooms to the group.
    whole = _scale(page)
    page.fill('input[name="select"]', "group:g3")
    page.press('input[name="select"]', "Enter")
    count = page.get_by_test_id("selection-count")
    count.wait_for()
    assert count.inner_text() == "200 selected"
    _wait_scale(page, f"k > {whole}")
    shot(page, "21-large-graph-group")

    # Zoom buttons and the mouse wheel change the scale; nodes appear once labels are readable.
    before = _scale(page)
    page.get_by_title("Zoom in").click()
    _wait_scale(page, f"k > {before}")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    before = _scale(page)
    page.mouse.wheel(0, -600)
    _wait_scale(page, f"k > {before}")
    page.get_by_title("Fit the whole graph").click()
    _wait_scale(page, f"Math.abs(k - {whole}) < 0.001")

    # One asset and its neighbours: few enough to zoom in to labelled, clickable nodes.
    wanted = set(large_server.api("GET", "/api/selection?q=" + quote("1+a1234+1"))["keys"])
    assert "a1234" in wanted and 2 < len(wanted) < 20
    page.fill('input[name="select"]', "1+a1234+1")
    page.press('input[name="select"]', "Enter")
    page.get_by_text(f"{len(wanted)} selected").wait_for()
    node = page.locator('.node.hit[data-key="a1234"]')
    node.wait_for()
    hits = {e.get_attribute("data-key") for e in page.locator(".node.hit").all()}
    assert hits == wanted
    # Only the nodes in view are in the DOM, not all 2,000.
    assert 0 < page.locator(".node").count() < 2000
    assert page.locator("svg.graph-svg.far").count() == 0
    shot(page, "22-large-graph-neighbours")

    # Dragging pans the view without opening anything; a click then opens the asset page.
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 260, box["y"] + 240, steps=5)
    page.mouse.up()
    assert page.url.endswith("/#/") or page.url.endswith("/")
    node.click()
    page.wait_for_url(re.compile(r"#/assets/a1234$"))
    page.locator("h1", has_text="a1234").wait_for()
    assert "g6" in page.locator(".crumbs").inner_text()
    shot(page, "23-large-graph-asset")
