"""Time-window partitions: one partition per tick of a cron schedule, keyed by its start time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from raystra.definitions._partitions._base import (
    DynamicPartitionsStore,
    PartitionsDefinition,
    TimeWindow,
)
from raystra.definitions._partitions._cadence import Cadence, cadence_for
from raystra.definitions._partitions._timefmt import KeyFormat, as_instant, load_timezone
from raystra.errors import InvalidDefinitionError

__all__ = ["TimeWindowPartitionsDefinition"]


class TimeWindowPartitionsDefinition(PartitionsDefinition):
    """One partition per window between consecutive ticks of ``cron_schedule``.

    A key is the window's start formatted with ``fmt`` in ``timezone``. The first partition
    starts at the first tick at or after ``start``. Windows must end by ``end`` (exclusive) when
    given, and by ``current_time`` (default now): the last partition is the last window that has
    fully closed, moved by ``end_offset`` windows (1 includes the window in progress, -1 drops
    the last closed one) — Dagster's semantics.

    ``start``/``end`` are strings in ``fmt`` or datetimes; naive datetimes (including
    ``current_time``) are wall-clock times in ``timezone``.

    Hourly, ``*/N``-minute, daily, weekly and monthly crons are computed arithmetically
    (listing or indexing 100,000 keys is fast); other crons iterate with croniter. Daily and
    coarser windows follow the wall clock (a DST day is 23 or 25 hours); hourly windows are real
    hours, and the second pass through a repeated fall-back hour gets the key suffix
    ``_POST_DST_TRANSITION``, as in Dagster.

    Example:
        >>> from datetime import datetime, UTC
        >>> six_hourly = TimeWindowPartitionsDefinition(
        ...     cron_schedule="0 */6 * * *", start="2024-01-01-00:00", fmt="%Y-%m-%d-%H:%M"
        ... )
        >>> six_hourly.get_partition_keys(current_time=datetime(2024, 1, 1, 19, tzinfo=UTC))
        ['2024-01-01-00:00', '2024-01-01-06:00', '2024-01-01-12:00']
    """

    def __init__(
        self,
        cron_schedule: str,
        start: str | datetime,
        fmt: str,
        *,
        end: str | datetime | None = None,
        timezone: str = "UTC",
        end_offset: int = 0,
    ) -> None:
        self._setup(cron_schedule, start, fmt, end, timezone, end_offset)

    def _setup(
        self,
        cron_schedule: str,
        start: str | datetime,
        fmt: str,
        end: str | datetime | None,
        timezone: str,
        end_offset: int,
    ) -> None:
        if not isinstance(end_offset, int):
            raise InvalidDefinitionError(f"end_offset must be an integer, got {end_offset!r}.")
        if "|" in fmt:
            raise InvalidDefinitionError(
                f"Partition key format {fmt!r} contains '|', which joins multi-partition keys."
            )
        tz = load_timezone(timezone)
        key_format = KeyFormat(fmt)
        self.cron_schedule = cron_schedule
        self.timezone = timezone
        self.fmt = fmt
        self.end_offset = end_offset
        self.start = _to_datetime(start, key_format, tz, what="start").astimezone(tz)
        self.end = None
        if end is not None:
            self.end = _to_datetime(end, key_format, tz, what="end").astimezone(tz)
        self._now_window: tuple[float, float, int] = (0.0, 0.0, 0)
        self._cadence: Cadence = cadence_for(
            cron_schedule, tz=tz, fmt=key_format, start=self.start.astimezone(UTC)
        )

    def __getstate__(self) -> dict[str, Any]:
        # Ship the parameters, not the cadence's tick cache; it is rebuilt on unpickle.
        return {"args": self._args()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._setup(*state["args"])

    def _args(self) -> tuple[str, datetime, str, datetime | None, str, int]:
        return (self.cron_schedule, self.start, self.fmt, self.end, self.timezone, self.end_offset)

    def _identity(self) -> tuple[object, ...]:
        end = None if self.end is None else self.end.timestamp()
        start = self.start.timestamp()
        return ("time", self.cron_schedule, start, self.fmt, end, self.timezone, self.end_offset)

    def __repr__(self) -> str:
        end = "" if self.end is None else f", end={self._cadence.fmt.format(self.end)!r}"
        offset = f", end_offset={self.end_offset}" if self.end_offset else ""
        return (
            f"TimeWindowPartitionsDefinition(cron_schedule={self.cron_schedule!r}, "
            f"start={self._cadence.fmt.format(self.start)!r}, fmt={self.fmt!r}{end}, "
            f"timezone={self.timezone!r}{offset})"
        )

    def describe(self) -> str:
        """E.g. ``daily partitions from 2024-01-01 (format %Y-%m-%d, UTC)``.

        Example:
            >>> TimeWindowPartitionsDefinition("0 0 * * *", "2024-01-01", "%Y-%m-%d").describe()
            'daily partitions from 2024-01-01 (format %Y-%m-%d, UTC)'
        """
        until = "" if self.end is None else f" until {self._cadence.fmt.format(self.end)}"
        offset = f", end_offset={self.end_offset}" if self.end_offset else ""
        return (
            f"{self._cadence.summary()} from {self._cadence.key(0)}{until} "
            f"(format {self.fmt}, {self.timezone}{offset})"
        )

    @property
    def expected_format(self) -> str:
        """The ``fmt`` with an example key, e.g. ``%Y-%m-%d (e.g. '2024-01-01')``."""
        return f"{self.fmt} (e.g. {self._cadence.key(0)!r})"

    @property
    def schedule_kind(self) -> str:
        """``hourly``, ``daily``, ``weekly``, ``monthly``, ``N-minute`` or ``cron``."""
        return self._cadence.kind

    # Keys and indexes.

    def _now(self, current_time: datetime | None) -> datetime:
        if current_time is None:
            return datetime.now(UTC)
        return as_instant(current_time, self._cadence.tz)

    def _count_at(self, now: datetime) -> int:
        cadence = self._cadence
        # The count only changes when a window closes, so remember the window "now" falls in.
        stamp = now.timestamp()
        low, high, current = self._now_window
        if not low <= stamp < high:
            current = cadence.index_at_or_before(now)
            low, high = (tick.timestamp() for tick in cadence.window(current))
            self._now_window = (low, high, current)
        count = max(0, current) + max(0, self.end_offset)
        if self.end is not None:
            count = min(count, max(0, cadence.index_at_or_before(self.end)))
        return max(0, count + min(0, self.end_offset))

    def count(
        self,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> int:
        """How many partitions exist at ``current_time``, computed without listing them.

        Example:
            >>> from datetime import datetime, UTC
            >>> daily = TimeWindowPartitionsDefinition("0 0 * * *", "2024-01-01", "%Y-%m-%d")
            >>> daily.count(datetime(2024, 12, 31, 12, tzinfo=UTC))
            365
        """
        return self._count_at(self._now(current_time))

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        """Keys of every window that exists at ``current_time`` (default: now), oldest first."""
        return self._cadence.keys(0, self._count_at(self._now(current_time)))

    def _keys_between(
        self,
        start: int,
        stop: int,
        current_time: datetime | None,
        dynamic: DynamicPartitionsStore | None,
    ) -> list[str]:
        return self._cadence.keys(start, stop)

    def _find_index(
        self, key: str, current_time: datetime | None, dynamic: DynamicPartitionsStore | None
    ) -> int | None:
        try:
            index = self._cadence.index_of_key(key)
        except ValueError:
            return None
        if index is None or index < 0 or index >= self._count_at(self._now(current_time)):
            return None
        return index

    def _key_problem(
        self, key: str, current_time: datetime | None, dynamic: DynamicPartitionsStore | None
    ) -> tuple[str, list[str]]:
        cadence, now = self._cadence, self._now(current_time)
        count = self._count_at(now)
        try:
            instant = cadence.key_instant(key)
        except ValueError:
            return f"it does not match the key format {self.fmt}", []
        index = cadence.index_of_key(key)
        none_yet = f"there are no partitions yet (the first window closes at {cadence.tick(1)})"
        if index is None:
            near = cadence.index_at_or_before(instant)
            reason = "no partition window starts at that time"
        elif index < 0:
            near, reason = 0, f"it is before the first partition {cadence.key(0)!r}"
        elif count == 0:
            return none_yet, []
        else:
            near = count - 1
            reason = f"it is after the last partition {cadence.key(near)!r}, {self._last_why(now)}"
        if count == 0:
            return f"{reason}; {none_yet}", []
        first = min(max(near - 1, 0), max(count - 3, 0))
        return reason, cadence.keys(first, min(first + 3, count))

    def _last_why(self, now: datetime) -> str:
        by_now = max(0, self._cadence.index_at_or_before(now)) + max(0, self.end_offset)
        if self.end is not None and self._cadence.index_at_or_before(self.end) < by_now:
            return f"set by the end {self._cadence.fmt.format(self.end)} (exclusive)"
        offset = f", moved by end_offset={self.end_offset}" if self.end_offset else ""
        return f"the last window closed by the current time {now.isoformat()}{offset}"

    # Time windows.

    def time_window_for_partition_key(self, key: str) -> TimeWindow:
        """The ``[start, end)`` window of ``key`` (aware datetimes in the definition's zone).

        Does not check that the window has closed yet; raises `PartitionKeyError` for a key
        that names no window.

        Example:
            >>> daily = TimeWindowPartitionsDefinition("0 0 * * *", "2024-01-01", "%Y-%m-%d")
            >>> window = daily.time_window_for_partition_key("2024-02-29")
            >>> window.start.isoformat(), window.end.isoformat()
            ('2024-02-29T00:00:00+00:00', '2024-03-01T00:00:00+00:00')
        """
        return self._cadence.window(self._index_any(key))

    def partition_key_for_time(self, when: datetime) -> str:
        """The key of the window containing ``when`` (not checked against the current time).

        Example:
            >>> from datetime import datetime, UTC
            >>> daily = TimeWindowPartitionsDefinition("0 0 * * *", "2024-01-01", "%Y-%m-%d")
            >>> daily.partition_key_for_time(datetime(2024, 5, 17, 13, 45, tzinfo=UTC))
            '2024-05-17'
        """
        return self._cadence.key(self._cadence.index_at_or_before(as_instant(when, self._tz)))

    @property
    def _tz(self) -> ZoneInfo:
        return self._cadence.tz

    def _index_any(self, key: str) -> int:
        """The window index of ``key``, even outside the current range."""
        try:
            index = self._cadence.index_of_key(key)
        except ValueError:
            index = None
        if index is None:
            raise self._key_error(key, None, None, None)
        return index

    def _window_at(self, index: int) -> TimeWindow:
        return self._cadence.window(index)

    def _key_at(self, index: int) -> str:
        return self._cadence.key(index)

    def _index_at_or_before(self, when: datetime) -> int:
        return self._cadence.index_at_or_before(when)

    def _index_before(self, when: datetime) -> int:
        return self._cadence.index_before(when)


def _to_datetime(value: str | datetime, fmt: KeyFormat, tz: ZoneInfo, *, what: str) -> datetime:
    if isinstance(value, datetime):
        return as_instant(value, tz)
    try:
        return as_instant(fmt.parse(value), tz)
    except (TypeError, ValueError):
        raise InvalidDefinitionError(
            f"Time-window partitions: {what} {value!r} does not match the key format "
            f"{fmt.fmt!r}; pass a string like {fmt.format(datetime(2024, 1, 1))!r} or a datetime."
        ) from None
