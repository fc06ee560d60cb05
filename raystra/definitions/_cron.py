"""Cron schedules for automation: validation and the ticks between two instants.

Ticks are computed by croniter on the wall clock of the schedule's time zone and then
localized the way time-window partitions are (`raystra.definitions._partitions._timefmt`): a
wall-clock time skipped by DST spring-forward fires at the same offset after the gap (02:30
becomes 03:30), a time repeated by fall-back fires once, at its first occurrence. croniter is
imported only here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from raystra.definitions._partitions._timefmt import load_timezone, localize, wall_clock
from raystra.errors import InvalidDefinitionError

__all__ = ["check_cron", "check_timezone", "cron_ticks", "latest_tick"]


def _croniter(cron: str, base: datetime) -> Any:
    from croniter import croniter  # type: ignore[import-untyped, unused-ignore]

    return croniter(cron, base)


def check_cron(cron: object, *, where: str) -> str:
    """``cron`` if it is a valid five-field cron string, else `InvalidDefinitionError`.

    Example:
        >>> check_cron("0 6 * * *", where="schedule 'daily'")
        '0 6 * * *'
    """
    from croniter import croniter  # type: ignore[import-untyped, unused-ignore]

    if not isinstance(cron, str) or len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise InvalidDefinitionError(
            f"{where}: {cron!r} is not a valid cron schedule; use five fields "
            "(minute hour day-of-month month weekday), e.g. '0 6 * * *' for 06:00 every day."
        )
    return cron


def check_timezone(name: object, *, where: str) -> str:
    """``name`` if it is an IANA time zone (``Europe/Paris``), else `InvalidDefinitionError`.

    Example:
        >>> check_timezone("America/New_York", where="schedule 'daily'")
        'America/New_York'
    """
    try:
        if not isinstance(name, str):
            raise ValueError(name)
        load_timezone(name)
    except Exception:
        raise InvalidDefinitionError(
            f"{where}: execution_timezone {name!r} is not a known time zone; use an IANA name "
            "such as 'UTC', 'Europe/Paris' or 'America/New_York'."
        ) from None
    return name


def cron_ticks(cron: str, timezone: str, *, after: datetime, until: datetime) -> Iterator[datetime]:
    """Ticks of ``cron`` in ``timezone`` with ``after < tick <= until``, oldest first (UTC).

    Example:
        >>> from datetime import UTC, datetime
        >>> [t.isoformat() for t in cron_ticks("0 */12 * * *", "UTC",
        ...     after=datetime(2024, 1, 1, tzinfo=UTC), until=datetime(2024, 1, 2, tzinfo=UTC))]
        ['2024-01-01T12:00:00+00:00', '2024-01-02T00:00:00+00:00']
    """
    tz = load_timezone(timezone)
    iterator = _croniter(cron, wall_clock(after.astimezone(UTC), tz))
    last = after.astimezone(UTC)
    while True:
        naive: datetime = iterator.get_next(datetime)
        tick = localize(naive, tz).astimezone(UTC)
        if tick <= last:  # a repeated fall-back hour, or a skipped time moved onto a real tick
            continue
        if tick > until:
            return
        last = tick
        yield tick


def latest_tick(cron: str, timezone: str, *, at_or_before: datetime) -> datetime:
    """The newest tick of ``cron`` at or before ``at_or_before`` (UTC).

    Example:
        >>> from datetime import UTC, datetime
        >>> latest_tick("0 6 * * *", "UTC", at_or_before=datetime(2024, 1, 2, 5, tzinfo=UTC))
        datetime.datetime(2024, 1, 1, 6, 0, tzinfo=datetime.timezone.utc)
    """
    tz = load_timezone(timezone)
    until = at_or_before.astimezone(UTC)
    iterator = _croniter(cron, wall_clock(until + timedelta(microseconds=1), tz))
    while True:
        naive: datetime = iterator.get_prev(datetime)
        tick = localize(naive, tz).astimezone(UTC)
        if tick <= until:
            return tick
