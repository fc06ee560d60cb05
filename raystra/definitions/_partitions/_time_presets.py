"""Hourly, daily, weekly and monthly partitions: time windows with a preset cron and format."""

from __future__ import annotations

from datetime import datetime

from raystra.definitions._partitions._time import TimeWindowPartitionsDefinition
from raystra.errors import InvalidDefinitionError

__all__ = [
    "DailyPartitionsDefinition",
    "HourlyPartitionsDefinition",
    "MonthlyPartitionsDefinition",
    "WeeklyPartitionsDefinition",
]

DATE_FORMAT = "%Y-%m-%d"
HOURLY_FORMAT = "%Y-%m-%d-%H:%M"


def _check(cls: str, name: str, value: int, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise InvalidDefinitionError(
            f"{cls}({name}={value!r}): {name} must be an integer from {low} to {high}."
        )
    return value


class HourlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per hour, starting ``minute_offset`` minutes past the hour.

    Keys look like ``2024-01-01-00:00``. Windows are real hours: across a DST fall-back the
    repeated hour's second pass is keyed ``..._POST_DST_TRANSITION``.

    Example:
        >>> from datetime import datetime, UTC
        >>> hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
        >>> hourly.get_partition_keys(current_time=datetime(2024, 1, 1, 2, 30, tzinfo=UTC))
        ['2024-01-01-00:00', '2024-01-01-01:00']
    """

    def __init__(
        self,
        start_date: str | datetime,
        end_date: str | datetime | None = None,
        *,
        minute_offset: int = 0,
        timezone: str = "UTC",
        fmt: str = HOURLY_FORMAT,
        end_offset: int = 0,
    ) -> None:
        minute = _check("HourlyPartitionsDefinition", "minute_offset", minute_offset, 0, 59)
        cron = f"{minute} * * * *"
        super().__init__(
            cron, start_date, fmt, end=end_date, timezone=timezone, end_offset=end_offset
        )


class DailyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per day, starting at ``hour_offset:minute_offset`` local time.

    Keys look like ``2024-01-01``. Days follow the wall clock, so a DST day is 23 or 25 hours.

    Example:
        >>> from datetime import datetime, UTC
        >>> daily = DailyPartitionsDefinition(start_date="2024-01-01")
        >>> daily.get_partition_keys(current_time=datetime(2024, 1, 3, 12, tzinfo=UTC))
        ['2024-01-01', '2024-01-02']
        >>> daily.describe()
        'daily partitions from 2024-01-01 (format %Y-%m-%d, UTC)'
    """

    def __init__(
        self,
        start_date: str | datetime,
        end_date: str | datetime | None = None,
        *,
        minute_offset: int = 0,
        hour_offset: int = 0,
        timezone: str = "UTC",
        fmt: str = DATE_FORMAT,
        end_offset: int = 0,
    ) -> None:
        minute = _check("DailyPartitionsDefinition", "minute_offset", minute_offset, 0, 59)
        hour = _check("DailyPartitionsDefinition", "hour_offset", hour_offset, 0, 23)
        cron = f"{minute} {hour} * * *"
        super().__init__(
            cron, start_date, fmt, end=end_date, timezone=timezone, end_offset=end_offset
        )


class WeeklyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per week, starting on ``day_offset`` (0 = Sunday, cron's numbering).

    Keys are the first day of each week, like ``2024-01-07``.

    Example:
        >>> from datetime import datetime, UTC
        >>> weekly = WeeklyPartitionsDefinition(start_date="2024-01-01", day_offset=1)
        >>> weekly.get_partition_keys(current_time=datetime(2024, 1, 20, tzinfo=UTC))
        ['2024-01-01', '2024-01-08']
    """

    def __init__(
        self,
        start_date: str | datetime,
        end_date: str | datetime | None = None,
        *,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 0,
        timezone: str = "UTC",
        fmt: str = DATE_FORMAT,
        end_offset: int = 0,
    ) -> None:
        minute = _check("WeeklyPartitionsDefinition", "minute_offset", minute_offset, 0, 59)
        hour = _check("WeeklyPartitionsDefinition", "hour_offset", hour_offset, 0, 23)
        day = _check("WeeklyPartitionsDefinition", "day_offset", day_offset, 0, 6)
        cron = f"{minute} {hour} * * {day}"
        super().__init__(
            cron, start_date, fmt, end=end_date, timezone=timezone, end_offset=end_offset
        )


class MonthlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per month, starting on day ``day_offset`` (1-31) of the month.

    Keys look like ``2024-01-01``. Days 29-31 follow cron: months without that day are skipped
    (so prefer 1-28).

    Example:
        >>> from datetime import datetime, UTC
        >>> monthly = MonthlyPartitionsDefinition(start_date="2024-01-01")
        >>> monthly.get_partition_keys(current_time=datetime(2024, 3, 15, tzinfo=UTC))
        ['2024-01-01', '2024-02-01']
    """

    def __init__(
        self,
        start_date: str | datetime,
        end_date: str | datetime | None = None,
        *,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 1,
        timezone: str = "UTC",
        fmt: str = DATE_FORMAT,
        end_offset: int = 0,
    ) -> None:
        minute = _check("MonthlyPartitionsDefinition", "minute_offset", minute_offset, 0, 59)
        hour = _check("MonthlyPartitionsDefinition", "hour_offset", hour_offset, 0, 23)
        day = _check("MonthlyPartitionsDefinition", "day_offset", day_offset, 1, 31)
        cron = f"{minute} {hour} {day} * *"
        super().__init__(
            cron, start_date, fmt, end=end_date, timezone=timezone, end_offset=end_offset
        )
