"""Helpers for automation tests: a stepped clock and a daemon that runs launches inline.

``clock`` drives the daemon's ``now``; tests that compare times stored by runs with it (cron
conditions, freshness, run status sensors) also use ``event_clock``, which makes event
timestamps (so materialization and run end times) read the same clock.
"""

from __future__ import annotations

import types
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

    def time(self) -> float:
        """``time.time()`` as this clock reads it."""
        return self.now.timestamp()


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


@pytest.fixture
def event_clock(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Event timestamps (`raystra.events.now`) read ``clock`` instead of the wall clock.

    Only the ``time`` module as ``raystra.events`` sees it is replaced: heartbeats, storage
    and everything else keep the real clock, so run monitoring is unaffected.
    """
    import raystra.events

    monkeypatch.setattr(raystra.events, "time", types.SimpleNamespace(time=clock.time))
    return clock
