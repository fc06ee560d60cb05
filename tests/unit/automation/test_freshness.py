"""Freshness policies at controlled times: overdue or not, how late, alerts and gauges.

Event timestamps follow the stepped clock (``event_clock``), so "materialized at 07:30" is
what storage records and what the daemon compares with its ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from raystra import (
    AssetKey,
    DefaultSensorStatus,
    Definitions,
    FreshnessPolicy,
    FreshnessPolicySensorContext,
    InvalidDefinitionError,
    asset,
    freshness_policy_sensor,
    materialize,
)
from raystra.automation import asset_freshness
from raystra.observability import _freshness_metrics
from raystra.storage import RunStorage


@asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=60))
def prices() -> int:
    return 1


@asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=60, cron_schedule="0 9 * * *"))
def morning_sales() -> int:
    return 1


@asset
def no_policy() -> int:
    return 1


DEFS = Definitions(assets=[prices, morning_sales, no_policy])


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def state(storage: RunStorage, name: str, now: datetime) -> Any:
    (found,) = asset_freshness(DEFS, storage, now=now, keys=[AssetKey(name)])
    return found


def test_maximum_lag_overdue_once_the_newest_data_is_too_old(storage, event_clock) -> None:
    never = state(storage, "prices", at(12))
    assert (never.overdue, never.minutes_overdue, never.lag_minutes) == (True, 0.0, None)

    event_clock.set(at(12))
    materialize(DEFS, "prices", storage=storage)
    fresh = state(storage, "prices", at(12, 30))
    assert (fresh.overdue, fresh.minutes_overdue, fresh.lag_minutes) == (False, None, 30.0)
    assert not state(storage, "prices", at(12, 59)).overdue
    late = state(storage, "prices", at(13, 15))
    assert late.overdue and late.overdue_since == at(13)
    assert late.minutes_overdue == 15.0
    # Assets without a policy are not reported at all.
    assert [s.asset_key for s in asset_freshness(DEFS, storage, now=at(13))] == [
        AssetKey("morning_sales"),
        AssetKey("prices"),
    ]


def test_cron_deadline_needs_recent_enough_data_at_each_tick(storage, event_clock) -> None:
    event_clock.set(at(7, 30))
    materialize(DEFS, "morning_sales", storage=storage)
    # Before 09:00 the deadline that counts is yesterday's, which 07:30 data meets.
    assert not state(storage, "morning_sales", at(8, 59)).overdue
    late = state(storage, "morning_sales", at(9, 10))  # 09:00 wants data from 08:00 on
    assert late.overdue_since == at(9) and late.minutes_overdue == 10.0
    assert state(storage, "morning_sales", at(17)).minutes_overdue == 8 * 60

    event_clock.set(at(9, 20))
    materialize(DEFS, "morning_sales", storage=storage)
    assert not state(storage, "morning_sales", at(9, 21)).overdue
    assert not state(storage, "morning_sales", at(8, 59, day=2)).overdue  # until the next tick
    again = state(storage, "morning_sales", at(9, 5, day=2))
    assert again.overdue_since == at(9, day=2) and again.minutes_overdue == 5.0


def test_never_materialized_with_a_cron_is_overdue_since_the_missed_deadline(storage) -> None:
    found = state(storage, "morning_sales", at(10, 30))
    assert found.overdue_since == at(9) and found.minutes_overdue == 90.0


def test_bad_policies_are_refused_with_the_fix() -> None:
    with pytest.raises(InvalidDefinitionError, match="maximum_lag_minutes=60"):
        FreshnessPolicy(maximum_lag_minutes=0)
    with pytest.raises(InvalidDefinitionError, match="cron"):
        FreshnessPolicy(maximum_lag_minutes=5, cron_schedule="at nine")


def test_the_freshness_sensor_alerts_once_per_lapse(stepped, storage, event_clock) -> None:
    alerts: list[tuple[str, str, float | None]] = []

    @freshness_policy_sensor(
        asset_selection="prices",
        minimum_interval_seconds=1,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def late_prices(context: FreshnessPolicySensorContext) -> None:
        label = context.asset_key.to_user_string()
        if context.became_overdue:
            alerts.append(("late", label, context.minutes_overdue))
        elif context.became_fresh:
            alerts.append(("fresh", label, context.previous_minutes_overdue))

    defs = Definitions(assets=[prices, morning_sales], sensors=[late_prices])
    daemon = stepped(defs)
    event_clock.set(at(12))
    materialize(defs, "prices", storage=storage)
    daemon.step(minutes=30)
    assert alerts == []
    daemon.step(minutes=40)  # 13:10: ten minutes late
    assert alerts == [("late", "prices", 10.0)]
    daemon.step(minutes=5)
    daemon.step(minutes=5)  # still late: no second alert
    assert alerts == [("late", "prices", 10.0)]
    assert storage.get_ticks("late_prices")[0].skip_reason == "overdue: prices"

    materialize(defs, "prices", storage=storage)  # at 13:20
    daemon.step(minutes=1)
    assert alerts[-1] == ("fresh", "prices", 20.0)
    daemon.step(minutes=30)
    assert len(alerts) == 2
    daemon.step(minutes=45)  # 14:36: late again since 14:20
    assert alerts[-1] == ("late", "prices", 16.0)
    assert len(alerts) == 3


def test_the_daemon_publishes_overdue_gauges(
    stepped, storage, event_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    # As if OTEL_METRICS_EXPORTER were set, with the SDK's in-memory reader as the exporter.
    monkeypatch.setattr(_freshness_metrics, "metrics_enabled", lambda environ: True)
    monkeypatch.setattr(_freshness_metrics, "meter_provider_for", lambda environ: provider)

    daemon = stepped(DEFS)
    event_clock.set(at(8))
    materialize(DEFS, "prices, morning_sales", storage=storage)
    report = daemon.step(minutes=30)
    assert report.overdue == []
    assert gauges(reader) == {
        "raystra.asset.overdue": {"morning_sales": 0, "prices": 0},
        "raystra.asset.overdue.minutes": {"morning_sales": 0.0, "prices": 0.0},
    }
    event_clock.set(at(9, 45))
    report = daemon.step()
    assert report.overdue == ["prices"]
    assert gauges(reader) == {
        # prices: 60 minutes after 08:00; morning_sales: 08:00 data meets the 09:00 deadline.
        "raystra.asset.overdue": {"morning_sales": 0, "prices": 1},
        "raystra.asset.overdue.minutes": {"morning_sales": 0.0, "prices": 45.0},
    }
    event_clock.set(at(9, 30, day=2))
    assert daemon.step().overdue == ["morning_sales", "prices"]
    assert gauges(reader)["raystra.asset.overdue.minutes"] == {
        "morning_sales": 30.0,
        "prices": 24 * 60 + 30.0,
    }


def gauges(reader: InMemoryMetricReader) -> dict[str, dict[str, Any]]:
    """Gauge name -> {asset key: latest value}, from the in-memory reader."""
    found: dict[str, dict[str, Any]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name.startswith("raystra.asset.overdue"):
                    values = found.setdefault(metric.name, {})
                    for point in metric.data.data_points:
                        values[point.attributes["raystra.asset.key"]] = point.value
    return found
