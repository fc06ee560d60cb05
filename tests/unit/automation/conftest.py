"""Helpers for automation tests: a stepped clock and a daemon that runs launches inline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from raystra import Definitions
from raystra.automation._daemon import AutomationDaemon, Iteration
from raystra.automation._launcher import RunLauncher
from raystra.storage import RunStorage, open_storage


class Clock:
    """A clock tests move by hand; the daemon is given ``clock.now`` on every iteration."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return self.now


class SteppedDaemon:
    """The real daemon iteration, with launches run synchronously and time from ``clock``."""

    def __init__(self, defs: Definitions, storage: RunStorage, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock
        self.daemon = AutomationDaemon(
            defs, storage, launcher=RunLauncher(defs, storage, synchronous=True)
        )

    def step(self, **delta: float) -> Iteration:
        if delta:
            self.clock.advance(**delta)
        report = self.daemon.iterate(self.clock.now)
        assert report.errors == [], report.errors
        return report


@pytest.fixture
def storage() -> Iterator[RunStorage]:
    store = open_storage()
    yield store
    store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def stepped(storage: RunStorage, clock: Clock):  # type: ignore[no-untyped-def]
    def make(defs: Definitions) -> SteppedDaemon:
        return SteppedDaemon(defs, storage, clock)

    return make
