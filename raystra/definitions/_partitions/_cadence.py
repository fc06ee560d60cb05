"""Cadences: where the ticks of a cron schedule fall, indexed from the first tick.

Index 0 is the first tick at or after the definition's start; window ``i`` is
``[tick(i), tick(i + 1))``. Three implementations:

* `FixedStepCadence` for hourly and ``*/N``-minute crons: ticks are a fixed number of real
  minutes apart, so index arithmetic is exact even across DST. In a fall-back hour the second
  occurrence of a wall-clock time gets the key suffix ``_POST_DST_TRANSITION`` (Dagster's).
* `CalendarCadence` for daily, weekly, monthly and ``M */N * * *`` crons: ticks are wall-clock
  times (so a day is 23 or 25 hours across DST), localized afterwards; index arithmetic is on
  the wall clock.
* `CronCadence` for every other cron: croniter on the wall clock, ticks cached as they are
  reached (croniter is imported only here).
"""

from __future__ import annotations

import bisect
import threading
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from raystra.definitions._partitions._base import TimeWindow
from raystra.definitions._partitions._timefmt import KeyFormat, localize, wall_clock
from raystra.errors import InvalidDefinitionError

__all__ = ["POST_DST_SUFFIX", "Cadence", "cadence_for"]

POST_DST_SUFFIX = "_POST_DST_TRANSITION"
_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_CHUNK = 512


class Cadence(ABC):
    """The ticks of one cron schedule in one time zone, with keys in one format."""

    kind: str  # "hourly", "daily", "weekly", "monthly", "15-minute", "6-hourly" or "cron"

    def __init__(self, tz: ZoneInfo, fmt: KeyFormat) -> None:
        self.tz = tz
        self.fmt = fmt

    @abstractmethod
    def summary(self) -> str:
        """E.g. ``daily partitions at 06:00`` or ``partitions on cron '0 9 * * 1-5'``."""

    @abstractmethod
    def tick(self, index: int) -> datetime:
        """The start of window ``index``, aware, in the cadence's time zone."""

    @abstractmethod
    def key(self, index: int) -> str:
        """The key of window ``index``."""

    @abstractmethod
    def index_at_or_before(self, instant: datetime) -> int:
        """The index of the window containing the aware ``instant`` (negative before tick 0)."""

    @abstractmethod
    def index_of_key(self, key: str) -> int | None:
        """The index keyed ``key``; None if it parses but names no tick, ValueError if not."""

    @abstractmethod
    def key_instant(self, key: str) -> datetime:
        """The instant ``key`` spells, in UTC; ValueError if it doesn't match the format."""

    def keys(self, start: int, stop: int) -> list[str]:
        """Keys of windows ``start`` up to (not including) ``stop``."""
        return [self.key(index) for index in range(start, stop)]

    def window(self, index: int) -> TimeWindow:
        """Window ``index`` as ``[tick(index), tick(index + 1))``."""
        return TimeWindow(self.tick(index), self.tick(index + 1))

    def index_before(self, instant: datetime) -> int:
        """The index of the last window starting strictly before ``instant``."""
        index = self.index_at_or_before(instant)
        return index - 1 if self.tick(index) == instant else index


class FixedStepCadence(Cadence):
    """Ticks every ``step_minutes`` real minutes, on local minutes ≡ ``minute_offset``."""

    def __init__(
        self,
        tz: ZoneInfo,
        fmt: KeyFormat,
        *,
        step_minutes: int,
        minute_offset: int,
        start: datetime,
    ) -> None:
        super().__init__(tz, fmt)
        self.step_minutes, self.minute_offset = step_minutes, minute_offset
        self.kind = "hourly" if step_minutes == 60 else f"{step_minutes}-minute"
        self.step = timedelta(minutes=step_minutes)
        self._utc = tz.key == "UTC"
        local = start.astimezone(tz).replace(second=0, microsecond=0)
        shift = timedelta(minutes=(minute_offset - local.minute) % step_minutes)
        anchor = local.astimezone(UTC) + shift
        self.anchor = anchor if anchor >= start else anchor + self.step

    def summary(self) -> str:
        at = f" at minute {self.minute_offset}" if self.minute_offset else ""
        return f"{self.kind} partitions{at}"

    def tick(self, index: int) -> datetime:
        return (self.anchor + index * self.step).astimezone(self.tz)

    def _format(self, local: datetime) -> str:
        # zoneinfo sets fold=1 only on the second pass through a repeated wall-clock time.
        text = self.fmt.format(local)
        return text + POST_DST_SUFFIX if local.fold else text

    def key(self, index: int) -> str:
        return self._format(self.tick(index))

    def keys(self, start: int, stop: int) -> list[str]:
        moment, step, tz, fmt = self.anchor + start * self.step, self.step, self.tz, self._format
        if self._utc:
            # Already UTC: converting 100,000 instants would be a third of the time.
            return [fmt(moment + i * step) for i in range(stop - start)]
        out = []
        for _ in range(start, stop):
            out.append(fmt(moment.astimezone(tz)))
            moment += step
        return out

    def index_at_or_before(self, instant: datetime) -> int:
        return (instant - self.anchor) // self.step

    def _parse(self, key: str) -> datetime:
        text, fold = (
            (key[: -len(POST_DST_SUFFIX)], 1) if key.endswith(POST_DST_SUFFIX) else (key, 0)
        )
        return self.fmt.parse(text).replace(tzinfo=self.tz, fold=fold).astimezone(UTC)

    def key_instant(self, key: str) -> datetime:
        return self._parse(key)

    def index_of_key(self, key: str) -> int | None:
        instant = self._parse(key)
        index = -((self.anchor - instant) // self.step)  # first tick at or after the key's time
        if self._utc and self.fmt.exact and not key.endswith(POST_DST_SUFFIX):
            # No DST in UTC: an aligned, exactly parsed key is that tick's key.
            return index if self.anchor + index * self.step == instant else None
        # A time skipped by DST or a misaligned one lands on a tick with another key.
        return index if self.key(index) == key else None


class CalendarCadence(Cadence):
    """Wall-clock ticks every ``days`` days, or monthly; localized after the arithmetic."""

    def __init__(
        self,
        tz: ZoneInfo,
        fmt: KeyFormat,
        *,
        hour: int,
        minute: int,
        start: datetime,
        days: int = 0,
        weekday: int | None = None,
        month_day: int | None = None,
        every_hours: int | None = None,
    ) -> None:
        super().__init__(tz, fmt)
        self.hour, self.minute, self.weekday, self.month_day = hour, minute, weekday, month_day
        self.every_hours = every_hours
        self.step = timedelta(days=days) if every_hours is None else timedelta(hours=every_hours)
        self.kind = {1: "daily", 7: "weekly"}.get(days, "monthly")
        first = wall_clock(start, tz)
        if every_hours is not None:  # wall-clock hours 0, N, 2N, ... of each day
            self.kind = f"{every_hours}-hourly"
            hour = first.hour - first.hour % every_hours
        tick = first.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if month_day is not None:
            tick = tick.replace(day=month_day)
            self.anchor = tick if tick >= first else _add_months(tick, 1)
            return
        if weekday is not None:  # cron counts Sunday as 0; Python's weekday() Monday as 0
            tick += timedelta(days=(weekday - 1 - tick.weekday()) % 7)
        self.anchor = tick if tick >= first else tick + self.step

    def summary(self) -> str:
        if self.every_hours is not None:
            return f"{self.kind} partitions" + (f" at minute {self.minute}" if self.minute else "")
        at = f" at {self.hour:02d}:{self.minute:02d}" if self.hour or self.minute else ""
        if self.weekday is not None:
            return f"weekly partitions starting {_DAY_NAMES[self.weekday]}s{at}"
        if self.month_day is not None:
            on = f" starting on day {self.month_day}" if self.month_day != 1 else ""
            return f"monthly partitions{on}{at}"
        return f"daily partitions{at}"

    def _naive(self, index: int) -> datetime:
        if self.month_day is not None:
            return _add_months(self.anchor, index)
        return self.anchor + index * self.step

    def tick(self, index: int) -> datetime:
        return localize(self._naive(index), self.tz)

    def key(self, index: int) -> str:
        return self.fmt.format(self._naive(index))

    def keys(self, start: int, stop: int) -> list[str]:
        if self.month_day is not None:
            return super().keys(start, stop)
        moment, step, fmt = self._naive(start), self.step, self.fmt.format
        out = []
        for _ in range(start, stop):
            out.append(fmt(moment))
            moment += step
        return out

    def _first_at_or_after(self, naive: datetime) -> int:
        if self.month_day is None:
            return -((self.anchor - naive) // self.step)
        index = (naive.year - self.anchor.year) * 12 + naive.month - self.anchor.month
        return index + 1 if self._naive(index) < naive else index

    def index_at_or_before(self, instant: datetime) -> int:
        index = self._first_at_or_after(wall_clock(instant, self.tz))
        while self.tick(index) > instant:
            index -= 1
        while self.tick(index + 1) <= instant:
            index += 1
        return index

    def key_instant(self, key: str) -> datetime:
        return localize(self.fmt.parse(key), self.tz).astimezone(UTC)

    def index_of_key(self, key: str) -> int | None:
        index = self._first_at_or_after(self.fmt.parse(key))
        return index if self.key(index) == key else None


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    return moment.replace(year=moment.year + total // 12, month=total % 12 + 1)


class CronCadence(Cadence):
    """Any cron, iterated by croniter on the wall clock; ticks are cached as reached."""

    kind = "cron"

    def __init__(self, tz: ZoneInfo, fmt: KeyFormat, *, cron: str, start: datetime) -> None:
        super().__init__(tz, fmt)
        self.cron = cron
        first = wall_clock(start, tz)
        self._forward = self._iterate(first - timedelta(microseconds=1))
        self._backward = self._iterate(first)
        # Naive ticks and their instants; _back* run backwards from tick -1.
        self._ticks: list[datetime] = []
        self._stamps: list[float] = []
        self._back: list[datetime] = []
        self._back_neg_stamps: list[float] = []  # negated, so bisect sees increasing values
        self._lock = threading.Lock()  # steps may share a definition across threads
        self._extend_forward()

    def _iterate(self, base: datetime) -> Any:
        from croniter import croniter  # type: ignore[import-untyped, unused-ignore]

        try:
            return croniter(self.cron, base)
        except (ValueError, KeyError) as error:
            raise InvalidDefinitionError(
                f"Invalid cron schedule {self.cron!r} for time-window partitions ({error}); "
                "use five fields like '0 */6 * * *' (minute hour day-of-month month weekday)."
            ) from None

    def _extend_forward(self) -> None:
        with self._lock:
            self._extend_forward_locked()

    def _extend_forward_locked(self) -> None:
        for _ in range(_CHUNK):
            try:
                naive: datetime = self._forward.get_next(datetime)
            except ValueError:
                if not self._ticks:
                    raise InvalidDefinitionError(
                        f"Cron schedule {self.cron!r} never fires; time-window partitions need "
                        "a schedule with ticks (e.g. not '0 0 30 2 *')."
                    ) from None
                raise
            stamp = localize(naive, self.tz).timestamp()
            if not self._stamps or stamp > self._stamps[-1]:  # DST can map two ticks to one
                self._ticks.append(naive)
                self._stamps.append(stamp)

    def _extend_backward(self) -> None:
        with self._lock:
            self._extend_backward_locked()

    def _extend_backward_locked(self) -> None:
        for _ in range(_CHUNK):
            naive: datetime = self._backward.get_prev(datetime)
            stamp = localize(naive, self.tz).timestamp()
            last = -self._back_neg_stamps[-1] if self._back_neg_stamps else self._stamps[0]
            if stamp < last:
                self._back.append(naive)
                self._back_neg_stamps.append(-stamp)

    def summary(self) -> str:
        return f"partitions on cron {self.cron!r}"

    def _naive(self, index: int) -> datetime:
        if index >= 0:
            while index >= len(self._ticks):
                self._extend_forward()
            return self._ticks[index]
        while -index > len(self._back):
            self._extend_backward()
        return self._back[-index - 1]

    def tick(self, index: int) -> datetime:
        return localize(self._naive(index), self.tz)

    def key(self, index: int) -> str:
        return self.fmt.format(self._naive(index))

    def index_at_or_before(self, instant: datetime) -> int:
        stamp = instant.timestamp()
        if stamp >= self._stamps[0]:
            while self._stamps[-1] <= stamp:
                self._extend_forward()
            return bisect.bisect_right(self._stamps, stamp) - 1
        while not self._back_neg_stamps or -self._back_neg_stamps[-1] > stamp:
            self._extend_backward()
        return -(bisect.bisect_left(self._back_neg_stamps, -stamp) + 1)

    def key_instant(self, key: str) -> datetime:
        return localize(self.fmt.parse(key), self.tz).astimezone(UTC)

    def index_of_key(self, key: str) -> int | None:
        naive = self.fmt.parse(key)
        if naive >= self._ticks[0]:
            while self._ticks[-1] < naive:
                self._extend_forward()
            index = bisect.bisect_left(self._ticks, naive)
        else:
            while not self._back or self._back[-1] >= naive:
                self._extend_backward()
            # _back is decreasing: count the ticks before 0 that are still >= naive.
            index = -sum(1 for tick in self._back if tick >= naive)
        return index if self.key(index) == key else None


def _field(text: str, low: int, high: int) -> int | None:
    return int(text) if text.isdigit() and low <= int(text) <= high else None


def cadence_for(cron: str, *, tz: ZoneInfo, fmt: KeyFormat, start: datetime) -> Cadence:
    """The fastest cadence that reproduces ``cron``'s ticks from ``start`` (an aware instant)."""
    fields = cron.split()
    if len(fields) == 5 and fields[3] == "*":
        minute, hour, day, _, weekday = fields
        if hour == day == weekday == "*":
            at = _field(minute, 0, 59)
            if at is not None:
                return FixedStepCadence(tz, fmt, step_minutes=60, minute_offset=at, start=start)
            step = _field(minute.removeprefix("*/"), 1, 60) if minute.startswith("*/") else None
            if step is not None and 60 % step == 0:
                return FixedStepCadence(tz, fmt, step_minutes=step, minute_offset=0, start=start)
        every = _field(hour.removeprefix("*/"), 2, 12) if hour.startswith("*/") else None
        m = _field(minute, 0, 59)
        if every is not None and 24 % every == 0 and m is not None and day == weekday == "*":
            return CalendarCadence(tz, fmt, hour=0, minute=m, start=start, every_hours=every)
        h, m = _field(hour, 0, 23), _field(minute, 0, 59)
        if h is not None and m is not None:
            if day == weekday == "*":
                return CalendarCadence(tz, fmt, hour=h, minute=m, start=start, days=1)
            dow, dom = _field(weekday, 0, 7), _field(day, 1, 28)
            if day == "*" and dow is not None:
                return CalendarCadence(
                    tz, fmt, hour=h, minute=m, start=start, days=7, weekday=dow % 7
                )
            if weekday == "*" and dom is not None:
                return CalendarCadence(tz, fmt, hour=h, minute=m, start=start, month_day=dom)
    return CronCadence(tz, fmt, cron=cron, start=start)
