"""One local Ray for the whole test session: a cold start costs 5-9 s and ~1 GB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """Start (or reuse) the session's local Ray through raystra's own connect()."""
    import ray

    from raystra.execution.ray import connect

    connect()
    yield
    ray.shutdown()


@pytest.fixture
def on_ray(ray_session: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run this test's materializations on the Ray executor (the session's Ray)."""
    monkeypatch.setenv("RAYSTRA_EXECUTOR", "ray")
