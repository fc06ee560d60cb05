"""`FreshnessPolicy`: how stale an asset may get before it is reported overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from raystra.definitions._cron import check_cron, check_timezone, latest_tick
from raystra.errors import InvalidDefinitionError

__all__ = ["FreshnessPolicy"]


@dataclass(frozen=True)
class FreshnessPolicy:
    """An asset's freshness target: a maximum lag, optionally checked at cron deadlines.

    Without ``cron_schedule`` the asset is overdue once its latest materialization is older
    than ``maximum_lag_minutes``. With it, each tick of the cron is a deadline: by then the
    asset must hold data materialized no earlier than ``maximum_lag_minutes`` before the tick
    ("by 09:00 every weekday, data at most 60 minutes old"). The asset stays overdue from the
    missed deadline until a materialization satisfies it. For a partitioned asset the newest
    materialization of any partition counts.

    Args:
        maximum_lag_minutes: How old the newest data may be, in minutes (> 0).
        cron_schedule: Deadlines as a five-field cron (optional).
        cron_schedule_timezone: Time zone of ``cron_schedule`` (IANA name, default UTC).

    Example:
        >>> from datetime import UTC, datetime
        >>> policy = FreshnessPolicy(maximum_lag_minutes=60)
        >>> now = datetime(2024, 1, 1, 12, tzinfo=UTC)
        >>> policy.overdue_since(last_materialized=now.timestamp() - 7200, now=now)
        datetime.datetime(2024, 1, 1, 11, 0, tzinfo=datetime.timezone.utc)
    """

    maximum_lag_minutes: float
    cron_schedule: str | None = None
    cron_schedule_timezone: str = "UTC"

    def __post_init__(self) -> None:
        lag = self.maximum_lag_minutes
        if isinstance(lag, bool) or not isinstance(lag, int | float) or lag <= 0:
            raise InvalidDefinitionError(
                f"FreshnessPolicy(maximum_lag_minutes={lag!r}): give a number of minutes > 0, "
                "e.g. maximum_lag_minutes=60."
            )
        if self.cron_schedule is not None:
            check_cron(self.cron_schedule, where="FreshnessPolicy(cron_schedule=...)")
        check_timezone(self.cron_schedule_timezone, where="FreshnessPolicy")

    @property
    def maximum_lag(self) -> timedelta:
        """``maximum_lag_minutes`` as a timedelta."""
        return timedelta(minutes=self.maximum_lag_minutes)

    def overdue_since(self, *, last_materialized: float | None, now: datetime) -> datetime | None:
        """When the asset became overdue (aware UTC), or None while it is fresh.

        ``last_materialized`` is the newest materialization's time (seconds since the epoch),
        None if the asset was never materialized. Without a cron, a never-materialized asset
        is overdue since ``now``; with a cron, since the first deadline it missed.

        Example:
            >>> from datetime import UTC, datetime
            >>> policy = FreshnessPolicy(maximum_lag_minutes=30, cron_schedule="0 9 * * *")
            >>> at = datetime(2024, 1, 2, 10, tzinfo=UTC)
            >>> policy.overdue_since(last_materialized=datetime(2024, 1, 2, 8, 45,
            ...     tzinfo=UTC).timestamp(), now=at) is None
            True
        """
        if self.cron_schedule is None:
            if last_materialized is None:
                return now
            due = datetime.fromtimestamp(last_materialized, now.tzinfo) + self.maximum_lag
            return due if due <= now else None
        deadline = latest_tick(self.cron_schedule, self.cron_schedule_timezone, at_or_before=now)
        if last_materialized is not None and (
            last_materialized >= (deadline - self.maximum_lag).timestamp()
        ):
            return None
        return deadline
