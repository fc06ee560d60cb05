"""Bad keys get one readable paragraph; definitions are values (equal, hashable, picklable)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import cloudpickle
import pytest

from raystra.definitions._partitions import (
    AllPartitionMapping,
    BackfillPolicy,
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    InMemoryDynamicPartitionsStore,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionKeyRange,
    PartitionsDefinition,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from raystra.errors import InvalidDefinitionError, PartitionKeyError, RaystraError

NOW = datetime(2024, 1, 10, 12, tzinfo=UTC)
DAILY = DailyPartitionsDefinition("2024-01-01")


def key_error(definition: PartitionsDefinition, key: str, **kwargs: object) -> str:
    with pytest.raises(PartitionKeyError) as caught:
        definition.validate_key(key, asset="orders", **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


class TestKeyErrors:
    def test_before_the_start_suggests_the_first_keys(self) -> None:
        message = key_error(DAILY, "2023-12-25", current_time=NOW)
        assert "'orders'" in message
        assert DAILY.describe() in message
        assert "before the first partition '2024-01-01'" in message
        assert "Nearest valid keys: '2024-01-01', '2024-01-02', '2024-01-03'" in message
        assert "Expected format: %Y-%m-%d (e.g. '2024-01-01')" in message

    def test_after_the_end_suggests_the_last_keys(self) -> None:
        message = key_error(DAILY, "2024-03-01", current_time=NOW)
        assert "after the last partition '2024-01-09'" in message
        assert "'2024-01-07', '2024-01-08', '2024-01-09'" in message

    def test_explicit_end_is_named(self) -> None:
        bounded = DailyPartitionsDefinition("2024-01-01", "2024-01-05")
        message = key_error(bounded, "2024-01-06", current_time=NOW)
        assert "set by the end" in message and "'2024-01-04'" in message

    def test_wrong_format_gives_the_format_and_an_example(self) -> None:
        message = key_error(DAILY, "01/05/2024", current_time=NOW)
        assert "does not match the key format %Y-%m-%d" in message
        assert "(e.g. '2024-01-01')" in message

    def test_unaligned_key_suggests_the_keys_around_it(self) -> None:
        weekly = WeeklyPartitionsDefinition("2024-01-01")
        message = key_error(weekly, "2024-01-16", current_time=datetime(2024, 3, 1, tzinfo=UTC))
        assert "no partition window starts at that time" in message
        assert "'2024-01-14', '2024-01-21'" in message

    def test_no_partitions_yet(self) -> None:
        future = DailyPartitionsDefinition("2030-01-01")
        message = key_error(future, "2030-01-01", current_time=NOW)
        assert "no partitions yet" in message

    def test_hourly_key_given_to_a_daily_definition(self) -> None:
        message = key_error(DAILY, "2024-01-05-00:00", current_time=NOW)
        assert "%Y-%m-%d" in message

    def test_static_suggests_close_spellings(self) -> None:
        colors = StaticPartitionsDefinition(["red", "green", "blue"])
        message = key_error(colors, "gren")
        assert "Nearest valid keys: 'green'" in message
        assert "one of 'red', 'green', 'blue'" in message
        assert "'red', 'green'" in key_error(colors, "zzzzzz")  # nothing close: the first keys

    def test_dynamic_suggests_close_spellings(self) -> None:
        store = InMemoryDynamicPartitionsStore()
        store.add_dynamic_partitions("customers", ["acme", "globex", "initech"])
        message = key_error(
            DynamicPartitionsDefinition("customers"), "acne", dynamic_partitions=store
        )
        assert "'acme'" in message and "dynamic partitions 'customers'" in message

    def test_reversed_range_shows_the_swapped_range(self) -> None:
        with pytest.raises(PartitionKeyError) as caught:
            DAILY.get_partition_keys_in_range(
                PartitionKeyRange("2024-01-08", "2024-01-02"), asset="orders", current_time=NOW
            )
        message = str(caught.value)
        assert "'orders'" in message and "start '2024-01-08' is after end '2024-01-02'" in message
        assert "PartitionKeyRange(start='2024-01-02', end='2024-01-08')" in message
        assert "--partition-range '2024-01-02...2024-01-08'" in message

    def test_range_with_a_bad_end_names_it(self) -> None:
        with pytest.raises(PartitionKeyError, match="'2024-02-30'"):
            DAILY.validate_range(PartitionKeyRange("2024-01-02", "2024-02-30"), current_time=NOW)

    def test_errors_are_raystra_and_value_errors(self) -> None:
        with pytest.raises(ValueError):
            DAILY.key_index("nope", current_time=NOW)
        with pytest.raises(RaystraError):
            DAILY.key_index("nope", current_time=NOW)


DEFINITIONS: list[PartitionsDefinition] = [
    DAILY,
    HourlyPartitionsDefinition("2024-01-01-00:00", timezone="America/New_York", end_offset=1),
    TimeWindowPartitionsDefinition("0 9 * * 1-5", "2024-01-01", "%Y-%m-%d", end="2024-06-01"),
    StaticPartitionsDefinition(["a", "b"]),
    DynamicPartitionsDefinition("files"),
    MultiPartitionsDefinition({"date": DAILY, "color": StaticPartitionsDefinition(["red"])}),
]


class TestValues:
    def test_equal_by_value(self) -> None:
        assert DailyPartitionsDefinition(start_date="2024-01-01") == DailyPartitionsDefinition(
            start_date="2024-01-01"
        )
        assert TimeWindowPartitionsDefinition("0 0 * * *", "2024-01-01", "%Y-%m-%d") == DAILY
        assert DailyPartitionsDefinition("2024-01-02") != DAILY
        assert DailyPartitionsDefinition("2024-01-01", timezone="Europe/Paris") != DAILY
        assert DailyPartitionsDefinition("2024-01-01", end_offset=1) != DAILY
        assert StaticPartitionsDefinition(["a", "b"]) != StaticPartitionsDefinition(["b", "a"])
        assert DynamicPartitionsDefinition("x") == DynamicPartitionsDefinition("x")
        assert len({DAILY, DailyPartitionsDefinition("2024-01-01"), DEFINITIONS[3]}) == 2

    @pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: type(d).__name__)
    @pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloud"])
    def test_pickles(self, definition: PartitionsDefinition, dumps: object) -> None:
        copy = pickle.loads(dumps(definition))  # type: ignore[operator]
        assert copy == definition and hash(copy) == hash(definition)
        assert copy.describe() == definition.describe()
        if not isinstance(definition, DynamicPartitionsDefinition):
            assert copy.get_partition_keys(NOW) == definition.get_partition_keys(NOW)

    def test_mappings_keys_and_policies_pickle(self) -> None:
        values = [
            TimeWindowPartitionMapping(start_offset=-6),
            StaticPartitionMapping({"a": ["x", "y"]}),
            AllPartitionMapping(),
            BackfillPolicy.multi_run(5),
            PartitionKeyRange("a", "b"),
        ]
        for value in values:
            assert pickle.loads(pickle.dumps(value)) == value
        key = MultiPartitionKey({"date": "2024-01-01", "color": "red"})
        copy = pickle.loads(pickle.dumps(key))
        assert copy == key and copy.keys_by_dimension == key.keys_by_dimension

    def test_mappings_are_frozen_values(self) -> None:
        assert TimeWindowPartitionMapping() == TimeWindowPartitionMapping(0, 0, False)
        with pytest.raises(AttributeError):
            TimeWindowPartitionMapping().start_offset = 3  # type: ignore[misc]


class TestBackfillPolicy:
    def test_single_and_multi_run(self) -> None:
        assert BackfillPolicy.single_run().max_partitions_per_run is None
        assert BackfillPolicy.single_run().is_single_run
        assert BackfillPolicy.multi_run().max_partitions_per_run == 1
        assert BackfillPolicy.multi_run(3).batches(list("abcdefg")) == [
            ["a", "b", "c"],
            ["d", "e", "f"],
            ["g"],
        ]
        assert BackfillPolicy.single_run().batches([]) == []

    @pytest.mark.parametrize("bad", [0, -2, True, 1.5])
    def test_bad_limits_are_rejected(self, bad: object) -> None:
        with pytest.raises(InvalidDefinitionError, match="max_partitions_per_run"):
            BackfillPolicy.multi_run(bad)  # type: ignore[arg-type]
