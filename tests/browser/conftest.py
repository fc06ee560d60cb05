"""End-to-end UI tests: the real `raystra ui` server in a subprocess, Debian's Chromium headless.

Each server runs on a free port on 127.0.0.1 against its own RAYSTRA_HOME and a project the
tests write; launched runs use the in-process executor (no Ray) so a run takes seconds. Servers
are stopped by their PID. Screenshots land in ``tests/browser/artifacts/`` (git-ignored), printed
at the end of the session. Playwright drives ``/usr/bin/chromium``: never ``playwright
install``, which downloads a browser. Without Chromium the tests skip, except under CI=true.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("RAYSTRA_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).parent / "artifacts"
# Without the background-networking flags Chromium keeps calling Google services, which a
# closed network refuses (and which would make tests depend on the network).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SMALL_PROJECT = """
from pathlib import Path

from raystra import MaterializeResult, StaticPartitionsDefinition, asset, Definitions

FLAGS = Path(__file__).parent / "flags"


@asset(group_name="raw", code_version="3", description="Orders as they land from the shop.",
       metadata={"owner": "data-eng", "source": "https://shop.example/orders"})
def orders(context) -> list[int]:
    context.log.info("loaded %d orders from the shop", 5)
    return [12, 7, 30, 5, 9]


@asset(group_name="marts", description="Revenue over all orders.")
def revenue(context, orders: list[int]) -> int:
    context.log.info("summing %d orders", len(orders))
    return sum(orders)


@asset(group_name="marts", description="Fails while the flag file exists.")
def fragile(orders: list[int]) -> int:
    if (FLAGS / "fail").exists():
        raise RuntimeError("fragile was told to fail by its flag file")
    return len(orders)


@asset(group_name="marts")
def after_fragile(fragile: int) -> int:
    return fragile + 1


@asset(group_name="events", description="Fifty thousand partitions.",
       partitions_def=StaticPartitionsDefinition([f"p{i:05d}" for i in range(50_000)]))
def events(context) -> int:
    return int(context.partition_key[1:])


defs = Definitions(assets=[orders, revenue, fragile, after_fragile, events])
"""

# 2,000 assets in 10 groups, each depending on one or two assets of the layer before.
LARGE_PROJECT = """
from raystra import AssetSpec, Definitions

N = 2000
specs = []
for i in range(N):
    deps = []
    if i >= 50:
        deps.append(f"a{i - 50 + (i % 7)}")
        if i % 3 == 0:
            deps.append(f"a{i - 50 + (i % 11)}")
    specs.append(AssetSpec(f"a{i}", deps=sorted(set(deps)), group_name=f"g{i // 200}"))

defs = Definitions(assets=specs)
"""


# Partitions, backfills, live logs and traces: steps hold while a flag file the test
# creates exists, so the browser sees them in progress.
FLOWS_PROJECT = """
import time
from pathlib import Path

from raystra import Definitions, StaticPartitionsDefinition, asset

FLAGS = Path(__file__).parent / "flags"


def hold(name):
    flag = FLAGS / f"hold-{name}"
    deadline = time.monotonic() + 120
    while flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@asset(group_name="events", description="Fifty thousand partitions.",
       partitions_def=StaticPartitionsDefinition([f"p{i:05d}" for i in range(50_000)]))
def events(context) -> int:
    hold(context.partition_key)
    if (FLAGS / "fail").exists():
        raise RuntimeError(f"events {context.partition_key} was told to fail")
    return int(context.partition_key[1:])


@asset(group_name="slow", description="Waits for its flag file, then logs three lines.")
def prepare(context) -> int:
    hold("prepare")
    for i in range(3):
        context.log.info("prepare line %d of 3", i + 1)
    return 3


@asset(group_name="slow", description="Waits for its flag file after prepare.")
def waiter(context, prepare: int) -> int:
    context.log.info("waiter is waiting for its flag")
    hold("waiter")
    context.log.info("waiter done after %d lines", prepare)
    return 1


defs = Definitions(assets=[events, prepare, waiter])
"""

TRACE_URL = "http://jaeger.test:16686/trace/{trace_id}"


@dataclass
class Server:
    """A running `raystra ui`: its base URL, process, home and project folder."""

    url: str
    process: subprocess.Popen[bytes]
    home: Path
    project: Path
    log: Path

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    tmp: Path,
    project_source: str,
    *,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    command_name: str = "ui",
) -> Server:
    """Write the project, start ``raystra ui -f PROJECT`` (or ``dev``) on a free port, wait
    until it answers."""
    project = tmp / "project"
    (project / "flags").mkdir(parents=True)
    path = project / "ui_project.py"
    path.write_text(project_source)
    home = tmp / "home"
    home.mkdir()
    port = _free_port()
    environ = {**os.environ, "RAYSTRA_HOME": str(home), "RAYSTRA_EXECUTOR": "in_process"}
    environ.pop("RAYSTRA_STORAGE_URL", None)
    environ.update(env or {})
    log = tmp / "server.log"
    command = [sys.executable, "-m", "raystra.cli", command_name, "-f", str(path)]
    command += ["--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *(extra or [])], env=environ, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", process, home, project, log)
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"raystra ui exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(server.url + "/api/me", timeout=5) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"raystra ui did not answer within 90 s:\n{log.read_text()}")
        time.sleep(0.3)


def stop_server(server: Server) -> None:
    """Stop the server by its PID (SIGTERM, then SIGKILL after 15 s)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=15)


@pytest.fixture(scope="session")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("ui-small"), SMALL_PROJECT)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def large_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("ui-large"), LARGE_PROJECT)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def flows_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """FLOWS_PROJECT, its runs traced (console exporter) and linked to TRACE_URL."""
    env = {"OTEL_TRACES_EXPORTER": "console", "RAYSTRA_TRACE_URL": TRACE_URL}
    server = start_server(tmp_path_factory.mktemp("ui-flows"), FLOWS_PROJECT, env=env)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """SMALL_PROJECT behind ``raystra ui --auth``."""
    server = start_server(tmp_path_factory.mktemp("ui-auth"), SMALL_PROJECT, extra=["--auth"])
    yield server
    stop_server(server)


def create_token(server: Server, user: str, role: str) -> str:
    """A token made the way an admin makes one: ``raystra ui token create``."""
    env = {**os.environ, "RAYSTRA_HOME": str(server.home)}
    env.pop("RAYSTRA_STORAGE_URL", None)
    command = [sys.executable, "-m", "raystra.cli", "ui", "token", "create"]
    made = subprocess.run(
        [*command, "--user", user, "--role", role],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("rst_"), made.stdout
    return token


def wait_api(
    check: Any, *, timeout: float = 120.0, what: str = "the server", every: float = 0.3
) -> Any:
    """Poll ``check()`` until it returns something truthy (setting up state through the API)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    ci = os.environ.get("CI") == "true"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if ci:
            pytest.fail(
                "playwright is not installed (it is in the test extra): pip install -e '.[test]'"
            )
        pytest.skip("playwright is not installed")
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (.ci/run does)"
        if ci:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (1400x860); JavaScript errors on it fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.set_default_timeout(30_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page: Any, name: str) -> Path:
    """Save a screenshot of the page as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def record(name: str, values: dict[str, Any]) -> None:
    """Save measurements (layout and render times) beside the screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(values, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ARTIFACTS.exists() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"browser test screenshots and measurements: {ARTIFACTS}")
