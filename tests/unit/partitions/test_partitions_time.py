"""Time-window partitions: which keys exist when, their windows, offsets, zones and DST."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from raystra.definitions._partitions import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    PartitionKeyRange,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from raystra.definitions._partitions._cadence import CronCadence, cadence_for
from raystra.definitions._partitions._timefmt import KeyFormat
from raystra.errors import InvalidDefinitionError, PartitionKeyError

NY = ZoneInfo("America/New_York")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class TestDaily:
    def test_last_partition_is_the_last_closed_day(self) -> None:
        daily = DailyPartitionsDefinition("2024-01-01")
        assert daily.get_partition_keys(at(2024, 1, 4, 23, 59)) == [
            "2024-01-01",
            "2024-01-02",
            "2024-01-03",
        ]
        # At exactly midnight the previous day has closed.
        assert daily.get_partition_keys(at(2024, 1, 4))[-1] == "2024-01-03"
        assert daily.get_partition_keys(at(2024, 1, 1, 12)) == []
        assert daily.count(at(2024, 12, 31, 12)) == 365

    def test_default_current_time_is_now(self) -> None:
        daily = DailyPartitionsDefinition("2020-01-01")
        yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
        assert daily.get_partition_keys()[-1] in {
            yesterday,
            (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d"),  # ran at midnight
        }

    def test_end_date_is_exclusive(self) -> None:
        daily = DailyPartitionsDefinition("2024-01-01", "2024-01-04")
        assert daily.get_partition_keys(at(2030, 1, 1)) == [
            "2024-01-01",
            "2024-01-02",
            "2024-01-03",
        ]
        assert daily.get_partition_keys(at(2024, 1, 3)) == ["2024-01-01", "2024-01-02"]

    @pytest.mark.parametrize(
        ("end_offset", "expected_last", "expected_count"),
        [(0, "2024-01-09", 9), (1, "2024-01-10", 10), (2, "2024-01-11", 11), (-1, "2024-01-08", 8)],
    )
    def test_end_offset_moves_the_last_partition(
        self, end_offset: int, expected_last: str, expected_count: int
    ) -> None:
        daily = DailyPartitionsDefinition("2024-01-01", end_offset=end_offset)
        keys = daily.get_partition_keys(at(2024, 1, 10, 15))
        assert keys[-1] == expected_last
        assert len(keys) == expected_count == daily.count(at(2024, 1, 10, 15))

    def test_end_offset_before_the_first_window_closes(self) -> None:
        daily = DailyPartitionsDefinition("2024-01-01", end_offset=1)
        assert daily.get_partition_keys(at(2024, 1, 1, 5)) == ["2024-01-01"]

    def test_hour_and_minute_offsets(self) -> None:
        daily = DailyPartitionsDefinition("2024-01-01", hour_offset=6, minute_offset=30)
        assert daily.get_partition_keys(at(2024, 1, 3, 6, 29)) == ["2024-01-01"]
        assert daily.get_partition_keys(at(2024, 1, 3, 6, 30)) == ["2024-01-01", "2024-01-02"]
        window = daily.time_window_for_partition_key("2024-01-02")
        assert window.start == at(2024, 1, 2, 6, 30)
        assert window.end == at(2024, 1, 3, 6, 30)

    def test_time_zone_shifts_the_day_boundaries(self) -> None:
        tokyo = DailyPartitionsDefinition("2024-01-01", timezone="Asia/Tokyo")
        # 2024-01-02 00:00 in Tokyo is 2024-01-01 15:00 UTC.
        assert tokyo.get_partition_keys(at(2024, 1, 1, 15)) == ["2024-01-01"]
        assert tokyo.get_partition_keys(at(2024, 1, 1, 14, 59)) == []
        window = tokyo.time_window_for_partition_key("2024-01-01")
        assert window.start.utcoffset() == timedelta(hours=9)
        assert window.start.astimezone(UTC) == at(2023, 12, 31, 15)

    def test_dst_days_are_23_and_25_hours_of_wall_clock(self) -> None:
        daily = DailyPartitionsDefinition("2024-03-01", timezone="America/New_York")
        spring = daily.time_window_for_partition_key("2024-03-10")
        fall = daily.time_window_for_partition_key("2024-11-03")
        normal = daily.time_window_for_partition_key("2024-03-11")
        assert spring.end.timestamp() - spring.start.timestamp() == 23 * 3600
        assert fall.end.timestamp() - fall.start.timestamp() == 25 * 3600
        assert normal.end.timestamp() - normal.start.timestamp() == 24 * 3600
        assert (fall.start.hour, fall.end.hour) == (0, 0)
        keys = daily.get_partition_keys(at(2024, 11, 10))
        assert keys[keys.index("2024-11-02") : keys.index("2024-11-02") + 3] == [
            "2024-11-02",
            "2024-11-03",
            "2024-11-04",
        ]

    def test_start_as_datetime(self) -> None:
        from_aware = DailyPartitionsDefinition(datetime(2024, 1, 1, tzinfo=UTC))
        from_naive = DailyPartitionsDefinition(datetime(2024, 1, 1))
        assert from_aware == from_naive == DailyPartitionsDefinition("2024-01-01")
        # A start inside a day begins at the next boundary.
        late = DailyPartitionsDefinition(datetime(2024, 1, 1, 9, tzinfo=UTC))
        assert late.get_partition_keys(at(2024, 1, 5)) == ["2024-01-02", "2024-01-03", "2024-01-04"]

    def test_naive_current_time_is_wall_clock_in_the_definition_zone(self) -> None:
        tokyo = DailyPartitionsDefinition("2024-01-01", timezone="Asia/Tokyo")
        assert tokyo.get_partition_keys(datetime(2024, 1, 2, 0, 0)) == ["2024-01-01"]

    def test_custom_format(self) -> None:
        daily = DailyPartitionsDefinition("20240101", fmt="%Y%m%d")
        assert daily.get_partition_keys(at(2024, 1, 3)) == ["20240101", "20240102"]
        assert daily.key_index("20240102", current_time=at(2024, 1, 3)) == 1


class TestHourly:
    def test_keys_and_minute_offset(self) -> None:
        hourly = HourlyPartitionsDefinition("2024-01-01-00:00", minute_offset=15)
        assert hourly.get_partition_keys(at(2024, 1, 1, 2, 15)) == [
            "2024-01-01-00:15",
            "2024-01-01-01:15",
        ]

    def test_dst_spring_forward_skips_the_missing_hour(self) -> None:
        hourly = HourlyPartitionsDefinition("2024-03-10-00:00", timezone="America/New_York")
        keys = hourly.get_partition_keys(at(2024, 3, 10, 10))  # 06:00 EDT
        assert keys == [
            "2024-03-10-00:00",
            "2024-03-10-01:00",
            "2024-03-10-03:00",
            "2024-03-10-04:00",
            "2024-03-10-05:00",
        ]
        window = hourly.time_window_for_partition_key("2024-03-10-01:00")
        assert window.end.timestamp() - window.start.timestamp() == 3600
        assert window.end.hour == 3
        assert not hourly.has_partition_key("2024-03-10-02:00", current_time=at(2024, 3, 11))

    def test_dst_fall_back_keys_the_repeated_hour_twice(self) -> None:
        hourly = HourlyPartitionsDefinition("2024-11-03-00:00", timezone="America/New_York")
        keys = hourly.get_partition_keys(at(2024, 11, 3, 8))  # 03:00 EST
        assert keys == [
            "2024-11-03-00:00",
            "2024-11-03-01:00",
            "2024-11-03-01:00_POST_DST_TRANSITION",
            "2024-11-03-02:00",
        ]
        first = hourly.time_window_for_partition_key("2024-11-03-01:00")
        second = hourly.time_window_for_partition_key("2024-11-03-01:00_POST_DST_TRANSITION")
        assert first.start.utcoffset() == timedelta(hours=-4)
        assert second.start.utcoffset() == timedelta(hours=-5)
        assert first.end == second.start
        assert [hourly.key_index(k, current_time=at(2024, 11, 3, 8)) for k in keys] == [0, 1, 2, 3]
        assert hourly.partition_key_for_time(at(2024, 11, 3, 6, 30)) == keys[2]

    def test_100k_keys_index_arithmetically(self) -> None:
        hourly = HourlyPartitionsDefinition("2000-01-01-00:00", timezone="Europe/Berlin")
        now = at(2000, 1, 1) + timedelta(hours=100_000)
        keys = hourly.get_partition_keys(now)
        assert len(keys) == hourly.count(now) == len(set(keys))
        for index in (0, 1, 2_000, 50_000, len(keys) - 1):
            assert hourly.key_index(keys[index], current_time=now) == index
        window = hourly.time_window_for_partition_key(keys[-1])
        assert window.end <= now < window.end + timedelta(hours=1)


class TestWeeklyMonthly:
    def test_weekly_starts_on_sunday_by_default(self) -> None:
        weekly = WeeklyPartitionsDefinition("2024-01-01")  # a Monday
        assert weekly.get_partition_keys(at(2024, 1, 28)) == [
            "2024-01-07",
            "2024-01-14",
            "2024-01-21",
        ]

    def test_weekly_day_and_hour_offset(self) -> None:
        weekly = WeeklyPartitionsDefinition("2024-01-01", day_offset=3, hour_offset=12)
        keys = weekly.get_partition_keys(at(2024, 1, 17, 12))
        assert keys == ["2024-01-03", "2024-01-10"]
        assert weekly.time_window_for_partition_key("2024-01-10").start == at(2024, 1, 10, 12)

    def test_monthly(self) -> None:
        monthly = MonthlyPartitionsDefinition("2023-11-01")
        assert monthly.get_partition_keys(at(2024, 3, 1)) == [
            "2023-11-01",
            "2023-12-01",
            "2024-01-01",
            "2024-02-01",
        ]
        window = monthly.time_window_for_partition_key("2024-02-01")
        assert window.end - window.start == timedelta(days=29)

    def test_monthly_day_offset_and_zone(self) -> None:
        monthly = MonthlyPartitionsDefinition("2024-01-01", day_offset=15, timezone="Europe/Paris")
        assert monthly.get_partition_keys(at(2024, 3, 15)) == ["2024-01-15", "2024-02-15"]
        window = monthly.time_window_for_partition_key("2024-02-15")
        assert window.start.astimezone(UTC) == at(2024, 2, 14, 23)

    def test_monthly_day_31_skips_short_months_like_cron(self) -> None:
        monthly = MonthlyPartitionsDefinition("2024-01-01", day_offset=31)
        assert monthly.get_partition_keys(at(2024, 6, 1)) == ["2024-01-31", "2024-03-31"]

    @pytest.mark.parametrize(
        ("cls", "kwargs"),
        [
            (DailyPartitionsDefinition, {"hour_offset": 24}),
            (HourlyPartitionsDefinition, {"minute_offset": -1}),
            (WeeklyPartitionsDefinition, {"day_offset": 7}),
            (MonthlyPartitionsDefinition, {"day_offset": 0}),
        ],
    )
    def test_offsets_out_of_range_are_rejected(self, cls: type, kwargs: dict[str, int]) -> None:
        name = next(iter(kwargs))
        with pytest.raises(InvalidDefinitionError, match=name):
            cls("2024-01-01", **kwargs)


class TestCron:
    def test_weekday_cron_uses_croniter(self) -> None:
        weekdays = TimeWindowPartitionsDefinition("0 9 * * 1-5", "2024-01-01", "%Y-%m-%d")
        assert weekdays.schedule_kind == "cron"
        keys = weekdays.get_partition_keys(at(2024, 1, 9, 8, 59))
        assert keys == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
        window = weekdays.time_window_for_partition_key("2024-01-05")
        assert (window.start, window.end) == (at(2024, 1, 5, 9), at(2024, 1, 8, 9))
        assert weekdays.key_index("2024-01-05", current_time=at(2024, 1, 9, 9)) == 4
        assert not weekdays.has_partition_key("2024-01-06", current_time=at(2024, 2, 1))

    def test_every_six_hours(self) -> None:
        six = TimeWindowPartitionsDefinition("0 */6 * * *", "2024-01-01-00:00", "%Y-%m-%d-%H:%M")
        assert six.get_partition_keys(at(2024, 1, 2, 1)) == [
            "2024-01-01-00:00",
            "2024-01-01-06:00",
            "2024-01-01-12:00",
            "2024-01-01-18:00",
        ]

    def test_invalid_and_never_firing_crons_are_rejected(self) -> None:
        with pytest.raises(InvalidDefinitionError, match="Invalid cron schedule"):
            TimeWindowPartitionsDefinition("every day", "2024-01-01", "%Y-%m-%d")
        with pytest.raises(InvalidDefinitionError, match="never fires"):
            TimeWindowPartitionsDefinition("0 0 30 2 *", "2024-01-01", "%Y-%m-%d")

    @pytest.mark.parametrize(
        "cron",
        ["0 * * * *", "30 * * * *", "*/15 * * * *", "0 */6 * * *", "0 0 * * *", "30 2 * * *",
         "0 6 * * 1", "0 0 1 * *", "15 3 12 * *"],
    )  # fmt: skip
    @pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Australia/Adelaide"])
    def test_fast_paths_match_croniter_on_the_wall_clock(self, cron: str, zone: str) -> None:
        # The arithmetic cadences must tick exactly where cron does (hourly steps may differ only
        # in DST hours, which cron iterates on the wall clock; so compare outside them).
        tz, fmt = ZoneInfo(zone), KeyFormat("%Y-%m-%d-%H:%M")
        start = at(2024, 1, 1)
        fast = cadence_for(cron, tz=tz, fmt=fmt, start=start)
        slow = CronCadence(tz, fmt, cron=cron, start=start)
        assert not isinstance(fast, CronCadence)
        assert fast.keys(0, 300) == slow.keys(0, 300)
        assert [fast.tick(i) for i in range(0, 300, 7)] == [slow.tick(i) for i in range(0, 300, 7)]
        assert fast.keys(-5, 0) == slow.keys(-5, 0)


class TestKeysAndWindows:
    def test_window_and_key_round_trip(self) -> None:
        daily = DailyPartitionsDefinition("2024-01-01", timezone="America/New_York")
        for key in daily.get_partition_keys(at(2024, 12, 31)):
            window = daily.time_window_for_partition_key(key)
            assert daily.partition_key_for_time(window.start) == key
            assert daily.partition_key_for_time(window.end - timedelta(microseconds=1)) == key

    def test_partition_key_for_time(self) -> None:
        hourly = HourlyPartitionsDefinition("2024-01-01-00:00")
        assert hourly.partition_key_for_time(at(2024, 5, 1, 13, 59)) == "2024-05-01-13:00"

    def test_range_is_inclusive_and_fast_paths_agree_with_listing(self) -> None:
        daily = DailyPartitionsDefinition("2024-01-01")
        now = at(2024, 3, 1)
        keys = daily.get_partition_keys_in_range(
            PartitionKeyRange("2024-01-30", "2024-02-02"), current_time=now
        )
        assert keys == ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
        listing = daily.get_partition_keys(now)
        assert [daily.key_index(k, current_time=now) for k in listing] == list(range(len(listing)))

    def test_has_partition_key(self) -> None:
        daily = DailyPartitionsDefinition("2024-01-01")
        now = at(2024, 1, 10)
        assert daily.has_partition_key("2024-01-09", current_time=now)
        assert not daily.has_partition_key("2024-01-10", current_time=now)
        assert not daily.has_partition_key("2023-12-31", current_time=now)
        assert not daily.has_partition_key("not a date", current_time=now)
        assert daily.validate_key("2024-01-05", current_time=now) == "2024-01-05"

    def test_window_of_an_unaligned_key_raises(self) -> None:
        weekly = WeeklyPartitionsDefinition("2024-01-01")
        with pytest.raises(PartitionKeyError, match="no partition window starts at that time"):
            weekly.time_window_for_partition_key("2024-01-09")

    def test_bad_definition_arguments(self) -> None:
        with pytest.raises(InvalidDefinitionError, match="does not match the key format"):
            DailyPartitionsDefinition("01/02/2024")
        with pytest.raises(InvalidDefinitionError, match="Europe/Paris"):
            DailyPartitionsDefinition("2024-01-01", timezone="Europe/Pariss")
        with pytest.raises(InvalidDefinitionError, match=re.escape("'|'")):
            DailyPartitionsDefinition("2024|01|01", fmt="%Y|%m|%d")
