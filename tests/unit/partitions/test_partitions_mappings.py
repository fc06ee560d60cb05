"""Partition mappings in both directions, and how the mapping of an input is chosen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from raystra.definitions._partitions import (
    AllPartitionMapping,
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    InMemoryDynamicPartitionsStore,
    LastPartitionMapping,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    PartitionsDefinition,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    WeeklyPartitionsDefinition,
    default_partition_mapping,
    resolve_partition_mapping,
)
from raystra.errors import InvalidDefinitionError, PartitionMappingError

NOW = datetime(2024, 2, 1, tzinfo=UTC)
DAILY = DailyPartitionsDefinition("2024-01-01")
HOURLY = HourlyPartitionsDefinition("2024-01-01-00:00")
COLORS = StaticPartitionsDefinition(["red", "green", "blue"])


class TestTimeWindowMapping:
    def test_seven_day_rolling_window(self) -> None:
        week = TimeWindowPartitionMapping(start_offset=-6)
        keys = week.upstream_keys(["2024-01-10"], DAILY, DAILY, current_time=NOW)
        assert keys == [f"2024-01-{day:02d}" for day in range(4, 11)]
        # Which downstream days does one upstream day feed? The 7 days from it on.
        assert week.downstream_keys(["2024-01-04"], DAILY, DAILY, current_time=NOW) == [
            f"2024-01-{day:02d}" for day in range(4, 11)
        ]

    def test_rolling_windows_of_several_keys_are_merged(self) -> None:
        week = TimeWindowPartitionMapping(start_offset=-6)
        keys = week.upstream_keys(["2024-01-20", "2024-01-10"], DAILY, DAILY, current_time=NOW)
        days = [*range(4, 11), *range(14, 21)]
        assert keys == [f"2024-01-{day:02d}" for day in days]
        overlapping = week.upstream_keys(
            ["2024-01-12", "2024-01-10"], DAILY, DAILY, current_time=NOW
        )
        assert overlapping == [f"2024-01-{day:02d}" for day in range(4, 13)]

    def test_previous_day(self) -> None:
        previous = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
        assert previous.upstream_keys(["2024-01-10"], DAILY, DAILY, current_time=NOW) == [
            "2024-01-09"
        ]
        assert previous.downstream_keys(["2024-01-09"], DAILY, DAILY, current_time=NOW) == [
            "2024-01-10"
        ]

    def test_nonexistent_upstream_partitions_raise_or_are_dropped(self) -> None:
        with pytest.raises(PartitionMappingError) as caught:
            TimeWindowPartitionMapping(start_offset=-6).upstream_keys(
                ["2024-01-03"], DAILY, DAILY, current_time=NOW
            )
        message = str(caught.value)
        assert "'2023-12-28' to '2023-12-31'" in message
        assert "allow_nonexistent_upstream_partitions=True" in message
        lenient = TimeWindowPartitionMapping(
            start_offset=-6, allow_nonexistent_upstream_partitions=True
        )
        assert lenient.upstream_keys(["2024-01-03"], DAILY, DAILY, current_time=NOW) == [
            "2024-01-01",
            "2024-01-02",
            "2024-01-03",
        ]

    def test_future_upstream_partitions_do_not_exist_yet(self) -> None:
        ahead = TimeWindowPartitionMapping(end_offset=1)
        with pytest.raises(PartitionMappingError, match="not closed yet"):
            ahead.upstream_keys(["2024-01-31"], DAILY, DAILY, current_time=NOW)

    def test_hourly_upstream_daily_downstream(self) -> None:
        mapping = TimeWindowPartitionMapping()
        hours = mapping.upstream_keys(["2024-01-05"], DAILY, HOURLY, current_time=NOW)
        assert hours == [f"2024-01-05-{hour:02d}:00" for hour in range(24)]
        assert mapping.downstream_keys(
            ["2024-01-05-13:00", "2024-01-06-00:00"], HOURLY, DAILY, current_time=NOW
        ) == ["2024-01-05", "2024-01-06"]

    def test_daily_upstream_hourly_downstream(self) -> None:
        mapping = TimeWindowPartitionMapping()
        assert mapping.upstream_keys(
            ["2024-01-05-13:00", "2024-01-05-14:00"], HOURLY, DAILY, current_time=NOW
        ) == ["2024-01-05"]
        assert len(mapping.downstream_keys(["2024-01-05"], DAILY, HOURLY, current_time=NOW)) == 24

    def test_daily_in_a_zone_reads_utc_hours_it_overlaps(self) -> None:
        paris = DailyPartitionsDefinition("2024-01-02", timezone="Europe/Paris")
        hours = TimeWindowPartitionMapping().upstream_keys(
            ["2024-01-05"], paris, HOURLY, current_time=NOW
        )
        assert hours[0] == "2024-01-04-23:00" and hours[-1] == "2024-01-05-22:00"

    def test_dst_day_in_new_york_reads_23_utc_hours(self) -> None:
        new_york = DailyPartitionsDefinition("2024-03-01", timezone="America/New_York")
        now = datetime(2024, 4, 1, tzinfo=UTC)
        hours = TimeWindowPartitionMapping().upstream_keys(
            ["2024-03-10"], new_york, HOURLY, current_time=now
        )
        assert len(hours) == 23
        assert (hours[0], hours[-1]) == ("2024-03-10-05:00", "2024-03-11-03:00")
        assert TimeWindowPartitionMapping().downstream_keys(
            ["2024-03-10-04:00", "2024-03-10-05:00"], HOURLY, new_york, current_time=now
        ) == ["2024-03-09", "2024-03-10"]

    def test_weekly_downstream_of_daily(self) -> None:
        weekly = WeeklyPartitionsDefinition("2024-01-01")
        days = TimeWindowPartitionMapping().upstream_keys(
            ["2024-01-07"], weekly, DAILY, current_time=NOW
        )
        assert days == [f"2024-01-{day:02d}" for day in range(7, 14)]
        assert TimeWindowPartitionMapping().downstream_keys(
            ["2024-01-09"], DAILY, weekly, current_time=NOW
        ) == ["2024-01-07"]

    def test_downstream_keys_stop_at_existing_partitions(self) -> None:
        week = TimeWindowPartitionMapping(start_offset=-6)
        now = datetime(2024, 1, 12, tzinfo=UTC)
        assert week.downstream_keys(["2024-01-09"], DAILY, DAILY, current_time=now) == [
            "2024-01-09",
            "2024-01-10",
            "2024-01-11",
        ]

    def test_offsets_in_the_wrong_order_are_rejected(self) -> None:
        with pytest.raises(InvalidDefinitionError, match="start_offset must not be after"):
            TimeWindowPartitionMapping(start_offset=1, end_offset=0)


class TestSimpleMappings:
    def test_identity(self) -> None:
        identity = IdentityPartitionMapping()
        assert identity.upstream_keys(["blue", "red", "blue"], COLORS, COLORS) == ["red", "blue"]
        assert identity.downstream_keys(["green", "pink"], COLORS, COLORS) == ["green"]
        with pytest.raises(PartitionMappingError, match="'pink'"):
            identity.upstream_keys(["pink"], COLORS, COLORS)

    def test_all(self) -> None:
        assert AllPartitionMapping().upstream_keys(["red"], COLORS, DAILY, current_time=NOW)[
            -1
        ] == ("2024-01-31")
        assert AllPartitionMapping().downstream_keys(["2024-01-02"], DAILY, COLORS) == [
            "red",
            "green",
            "blue",
        ]
        assert AllPartitionMapping().downstream_keys([], DAILY, COLORS) == []
        assert AllPartitionMapping().downstream_keys(["2024-01-02"], DAILY, None) == []

    def test_last(self) -> None:
        last = LastPartitionMapping()
        assert last.upstream_keys(["red"], COLORS, DAILY, current_time=NOW) == ["2024-01-31"]
        assert last.downstream_keys(["2024-01-31"], DAILY, COLORS, current_time=NOW) == [
            "red",
            "green",
            "blue",
        ]
        assert last.downstream_keys(["2024-01-30"], DAILY, COLORS, current_time=NOW) == []
        empty = DailyPartitionsDefinition("2030-01-01")
        assert last.upstream_keys([], None, empty, current_time=NOW) == []

    def test_static(self) -> None:
        raw = StaticPartitionsDefinition(["eu_raw", "us_raw", "ca_raw"])
        countries = StaticPartitionsDefinition(["fr", "de", "us", "ca"])
        mapping = StaticPartitionMapping(
            {"eu_raw": ["fr", "de"], "us_raw": "us", "ca_raw": {"ca", "us"}}
        )
        assert mapping.upstream_keys(["us"], countries, raw) == ["us_raw", "ca_raw"]
        assert mapping.upstream_keys(["de", "fr"], countries, raw) == ["eu_raw"]
        assert mapping.downstream_keys(["ca_raw", "eu_raw"], raw, countries) == [
            "fr",
            "de",
            "us",
            "ca",
        ]
        assert mapping == StaticPartitionMapping(
            {"eu_raw": ["de", "fr"], "us_raw": ["us"], "ca_raw": ["us", "ca"]}
        )
        assert hash(mapping) == hash(
            StaticPartitionMapping({"eu_raw": ["de", "fr"], "us_raw": "us", "ca_raw": ["ca", "us"]})
        )


class TestMultiToSingle:
    GRID = MultiPartitionsDefinition({"date": DAILY, "color": COLORS})

    def test_multi_upstream_single_downstream(self) -> None:
        mapping = MultiToSingleDimensionPartitionMapping()
        keys = mapping.upstream_keys(["2024-01-02"], DAILY, self.GRID, current_time=NOW)
        assert keys == ["red|2024-01-02", "green|2024-01-02", "blue|2024-01-02"]
        assert mapping.downstream_keys(
            ["blue|2024-01-05", "red|2024-01-03", "red|2024-01-05"], self.GRID, DAILY,
            current_time=NOW,
        ) == ["2024-01-03", "2024-01-05"]  # fmt: skip

    def test_single_upstream_multi_downstream(self) -> None:
        mapping = MultiToSingleDimensionPartitionMapping(partition_dimension_name="color")
        assert mapping.upstream_keys(
            ["green|2024-01-03", "red|2024-01-03"], self.GRID, COLORS, current_time=NOW
        ) == ["red", "green"]
        downstream = mapping.downstream_keys(["blue"], COLORS, self.GRID, current_time=NOW)
        assert len(downstream) == 31 and all(key.startswith("blue|") for key in downstream)

    def test_dimension_must_match(self) -> None:
        other = StaticPartitionsDefinition(["x"])
        problem = MultiToSingleDimensionPartitionMapping().check_compatible(self.GRID, other)
        assert problem is not None and "no dimension" in problem
        named = MultiToSingleDimensionPartitionMapping(partition_dimension_name="size")
        problem = named.check_compatible(self.GRID, COLORS)
        assert problem is not None and "'size'" in problem


class TestResolution:
    @pytest.mark.parametrize(
        ("upstream", "downstream", "expected"),
        [
            (DAILY, DailyPartitionsDefinition("2024-01-01"), IdentityPartitionMapping()),
            (DAILY, None, AllPartitionMapping()),
            (HOURLY, DAILY, TimeWindowPartitionMapping()),
            (DailyPartitionsDefinition("2023-01-01"), DAILY, TimeWindowPartitionMapping()),
            (COLORS, StaticPartitionsDefinition(["red"]), IdentityPartitionMapping()),
            (
                MultiPartitionsDefinition({"date": DAILY, "color": COLORS}),
                COLORS,
                MultiToSingleDimensionPartitionMapping(),
            ),
        ],
    )
    def test_defaults(
        self,
        upstream: PartitionsDefinition,
        downstream: PartitionsDefinition | None,
        expected: object,
    ) -> None:
        assert default_partition_mapping(upstream, downstream) == expected
        resolved = resolve_partition_mapping(
            asset="down",
            input_name="up",
            upstream_key="up",
            upstream=upstream,
            downstream=downstream,
            explicit=None,
        )
        assert resolved == expected

    def test_unpartitioned_upstream_loads_the_whole_value(self) -> None:
        resolved = resolve_partition_mapping(
            asset="report",
            input_name="lookup",
            upstream_key="lookup",
            upstream=None,
            downstream=DAILY,
            explicit=None,
        )
        assert resolved is None

    def test_mismatch_names_asset_input_both_definitions_and_the_fix(self) -> None:
        with pytest.raises(PartitionMappingError) as caught:
            resolve_partition_mapping(
                asset="daily_sales",
                input_name="paint",
                upstream_key="raw/paint",
                upstream=COLORS,
                downstream=DAILY,
                explicit=None,
            )
        message = str(caught.value)
        assert "'daily_sales'" in message and "'paint'" in message and "'raw/paint'" in message
        assert COLORS.describe() in message and DAILY.describe() in message
        assert "ins={'paint': AssetIn(partition_mapping=AllPartitionMapping())}" in message
        assert "same partitions_def" in message

    def test_static_partitions_that_are_not_a_subset_need_a_mapping(self) -> None:
        with pytest.raises(PartitionMappingError, match="StaticPartitionMapping"):
            default_partition_mapping(COLORS, StaticPartitionsDefinition(["red", "pink"]))

    def test_dynamic_and_static_need_a_mapping(self) -> None:
        with pytest.raises(PartitionMappingError):
            default_partition_mapping(DynamicPartitionsDefinition("files"), COLORS)

    def test_explicit_mapping_is_checked(self) -> None:
        explicit = TimeWindowPartitionMapping(start_offset=-1)
        assert (
            resolve_partition_mapping(
                asset="a", input_name="b", upstream_key="b", upstream=DAILY, downstream=DAILY,
                explicit=explicit,
            )
            is explicit
        )  # fmt: skip
        with pytest.raises(PartitionMappingError) as caught:
            resolve_partition_mapping(
                asset="summary",
                input_name="paint",
                upstream_key="paint",
                upstream=COLORS,
                downstream=DAILY,
                explicit=explicit,
            )
        assert "time-window partitions on both sides" in str(caught.value)
        assert "'summary'" in str(caught.value)

    def test_explicit_static_mapping_keys_must_exist(self) -> None:
        with pytest.raises(PartitionMappingError, match="'purple'"):
            resolve_partition_mapping(
                asset="a",
                input_name="b",
                upstream_key="b",
                upstream=COLORS,
                downstream=StaticPartitionsDefinition(["x"]),
                explicit=StaticPartitionMapping({"purple": "x"}),
            )

    def test_explicit_mapping_on_an_unpartitioned_upstream_is_rejected(self) -> None:
        with pytest.raises(PartitionMappingError, match="not partitioned"):
            resolve_partition_mapping(
                asset="a",
                input_name="b",
                upstream_key="b",
                upstream=None,
                downstream=DAILY,
                explicit=AllPartitionMapping(),
            )

    def test_mapping_with_dynamic_upstream(self) -> None:
        store = InMemoryDynamicPartitionsStore()
        store.add_dynamic_partitions("files", ["a", "b"])
        files = DynamicPartitionsDefinition("files")
        mapping = resolve_partition_mapping(
            asset="report",
            input_name="files",
            upstream_key="files",
            upstream=files,
            downstream=None,
            explicit=None,
        )
        assert mapping is not None
        assert mapping.upstream_keys([], None, files, dynamic_partitions=store) == ["a", "b"]
