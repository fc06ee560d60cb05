"""A real project on disk, its definitions, and the web app over real SQLite storage.

Launched runs are real ``raystra`` processes reading the project file; they inherit the test's
RAYSTRA_HOME and RAYSTRA_EXECUTOR=in_process (see tests/conftest.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from raystra.cli._loading import DefinitionsTarget, load_definitions
from raystra.definitions import Definitions
from raystra.web import create_app

PROJECT = """
import os
import time
from pathlib import Path

from raystra import (
    ConfigurableResource,
    DailyPartitionsDefinition,
    Definitions,
    EnvVar,
    asset,
)

FLAGS = Path(__file__).parent / "flags"


class Warehouse(ConfigurableResource):
    url: str
    token: str


@asset(group_name="raw", code_version="1", description="Orders as they land.",
       metadata={"owner": "data-eng"})
def orders() -> list[int]:
    return [1, 2, 3]


@asset(group_name="marts")
def report(context, orders: list[int]) -> int:
    context.log.info("summing %s orders", len(orders))
    return sum(orders)


@asset(group_name="marts")
def fragile(orders: list[int]) -> int:
    if (FLAGS / "fail").exists():
        raise RuntimeError("fragile was told to fail")
    return len(orders)


@asset(group_name="marts")
def downstream_of_fragile(fragile: int) -> int:
    return fragile + 1


@asset(group_name="slow")
def slow() -> int:
    (FLAGS / "slow_started").touch()
    time.sleep(60)
    return 1


@asset(group_name="daily", partitions_def=DailyPartitionsDefinition(start_date="2024-03-01",
       end_date="2024-03-08"))
def daily_sales(context) -> list[int]:
    hold = FLAGS / f"hold-{context.partition_key}"
    if hold.exists():  # the test removes the flag to let the step finish
        (FLAGS / f"held-{context.partition_key}").touch()
        deadline = time.monotonic() + 60
        while hold.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    if (FLAGS / f"fail-{context.partition_key}").exists():
        raise RuntimeError(f"no sales for {context.partition_key}")
    return [len(context.partition_key)]


defs = Definitions(
    assets=[orders, report, fragile, downstream_of_fragile, slow, daily_sales],
    resources={"warehouse": Warehouse(url="https://dw.example", token=EnvVar("WEB_TEST_DW_TOKEN"))},
)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project's definitions file (``web_project.py``), with a ``flags`` folder beside it."""
    folder = tmp_path / "project"
    (folder / "flags").mkdir(parents=True)
    path = folder / "web_project.py"
    path.write_text(PROJECT)
    return path


@pytest.fixture
def defs(project: Path) -> Definitions:
    return load_definitions(DefinitionsTarget(file=project))


@pytest.fixture
def make_client(project: Path, defs: Definitions) -> Iterator[Callable[..., TestClient]]:
    """Build TestClients over the real app; launched processes are stopped by PID afterwards."""
    clients: list[TestClient] = []

    def make(**options: Any) -> TestClient:
        app = create_app(defs, launch_target=["-f", str(project)], **options)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        launcher = client.app.state.raystra.launcher  # type: ignore[attr-defined]
        if launcher is not None:
            launcher.shutdown(timeout_s=30)
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def wait_for(check: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def finished_run(client: TestClient, run_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``GET /api/runs/{id}`` until the run ended; its JSON."""

    def check() -> dict[str, Any] | None:
        run: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
        return run if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

    result: dict[str, Any] = wait_for(check, timeout=timeout, what=f"run {run_id} to finish")
    return result
