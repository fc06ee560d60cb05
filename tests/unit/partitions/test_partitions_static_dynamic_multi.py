"""Static, dynamic and multi-dimensional partitions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from raystra.definitions._partitions import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    DynamicPartitionsStore,
    InMemoryDynamicPartitionsStore,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionKeyRange,
    StaticPartitionsDefinition,
)
from raystra.errors import InvalidDefinitionError, InvalidNameError, PartitionKeyError

NOW = datetime(2024, 1, 4, 12, tzinfo=UTC)


class TestStatic:
    def test_keys_in_order_and_ranges(self) -> None:
        regions = StaticPartitionsDefinition(["eu", "us", "apac", "latam"])
        assert regions.get_partition_keys() == ["eu", "us", "apac", "latam"]
        assert regions.count() == 4
        assert regions.key_index("apac") == 2
        assert regions.get_partition_keys_in_range(PartitionKeyRange("us", "latam")) == [
            "us",
            "apac",
            "latam",
        ]

    def test_duplicates_are_rejected_naming_the_key(self) -> None:
        with pytest.raises(InvalidDefinitionError, match=r"key 'us' appears twice"):
            StaticPartitionsDefinition(["eu", "us", "us"])

    @pytest.mark.parametrize("bad", ["a/b", "a|b", "a,b", "a=b", "a\\b", "", "line\nbreak"])
    def test_reserved_characters_are_rejected_naming_the_key(self, bad: str) -> None:
        with pytest.raises(InvalidDefinitionError) as caught:
            StaticPartitionsDefinition(["ok", bad])
        assert repr(bad) in str(caught.value)

    def test_a_bare_string_is_rejected(self) -> None:
        with pytest.raises(
            InvalidDefinitionError, match=r"StaticPartitionsDefinition\(\['abc'\]\)"
        ):
            StaticPartitionsDefinition("abc")


class TestDynamic:
    def test_keys_come_from_the_store(self) -> None:
        store = InMemoryDynamicPartitionsStore()
        files = DynamicPartitionsDefinition("files")
        assert isinstance(store, DynamicPartitionsStore)
        assert files.get_partition_keys(dynamic_partitions=store) == []
        store.add_dynamic_partitions("files", ["a.csv", "b.csv"])
        store.add_dynamic_partitions("files", ["b.csv", "c.csv"])  # b.csv stays where it was
        assert files.get_partition_keys(dynamic_partitions=store) == ["a.csv", "b.csv", "c.csv"]
        assert files.has_partition_key("c.csv", dynamic_partitions=store)
        store.delete_dynamic_partition("files", "b.csv")
        assert files.get_partition_keys(dynamic_partitions=store) == ["a.csv", "c.csv"]
        assert files.key_index("c.csv", dynamic_partitions=store) == 1
        assert store.get_dynamic_partitions("other") == []

    def test_without_a_store_the_error_says_keys_live_in_run_storage(self) -> None:
        with pytest.raises(PartitionKeyError, match="live in run storage") as caught:
            DynamicPartitionsDefinition("files").get_partition_keys()
        assert "dynamic_partitions=" in str(caught.value)

    def test_store_rejects_bad_keys_and_unknown_deletes(self) -> None:
        store = InMemoryDynamicPartitionsStore()
        with pytest.raises(PartitionKeyError, match="'a/b'"):
            store.add_dynamic_partitions("files", ["a/b"])
        store.add_dynamic_partitions("files", ["report.csv"])
        with pytest.raises(PartitionKeyError, match=re.escape("'report.csv'")):
            store.delete_dynamic_partition("files", "reprot.csv")

    def test_name_must_be_a_valid_name(self) -> None:
        with pytest.raises(InvalidNameError):
            DynamicPartitionsDefinition("my files")


class TestMulti:
    @pytest.fixture
    def grid(self) -> MultiPartitionsDefinition:
        return MultiPartitionsDefinition(
            {
                "region": StaticPartitionsDefinition(["eu", "us"]),
                "date": DailyPartitionsDefinition("2024-01-01"),
                "customer": DynamicPartitionsDefinition("customers"),
            }
        )

    @pytest.fixture
    def store(self) -> InMemoryDynamicPartitionsStore:
        store = InMemoryDynamicPartitionsStore()
        store.add_dynamic_partitions("customers", ["acme", "globex"])
        return store

    def test_three_dimensions_cartesian_product_in_sorted_dimension_order(
        self, grid: MultiPartitionsDefinition, store: InMemoryDynamicPartitionsStore
    ) -> None:
        assert grid.partition_dimension_names == ["customer", "date", "region"]
        keys = grid.get_partition_keys(NOW, store)
        assert len(keys) == 2 * 3 * 2 == grid.count(NOW, store)
        assert keys[:3] == ["acme|2024-01-01|eu", "acme|2024-01-01|us", "acme|2024-01-02|eu"]
        assert keys[-1] == "globex|2024-01-03|us"
        assert keys[4].keys_by_dimension == {
            "customer": "acme",
            "date": "2024-01-03",
            "region": "eu",
        }
        for position, key in enumerate(keys):
            assert grid.key_index(key, current_time=NOW, dynamic_partitions=store) == position

    def test_multi_partition_key(self) -> None:
        key = MultiPartitionKey.from_dims({"region": "eu", "date": "2024-01-01"})
        assert key == "2024-01-01|eu"
        assert isinstance(key, str)
        assert {key: 1} == {"2024-01-01|eu": 1}
        with pytest.raises(PartitionKeyError, match=re.escape("'|'")):
            MultiPartitionKey({"a": "x|y", "b": "z"})

    def test_to_multi_key(
        self, grid: MultiPartitionsDefinition, store: InMemoryDynamicPartitionsStore
    ) -> None:
        key = grid.to_multi_key("acme|2024-01-02|us")
        assert key.keys_by_dimension["date"] == "2024-01-02"
        with pytest.raises(PartitionKeyError, match="3 dimensions"):
            grid.to_multi_key("acme|us")

    def test_validation_names_the_bad_dimension(
        self, grid: MultiPartitionsDefinition, store: InMemoryDynamicPartitionsStore
    ) -> None:
        with pytest.raises(PartitionKeyError) as caught:
            grid.validate_key("acme|2024-01-02|uk", asset="sales", dynamic_partitions=store)
        message = str(caught.value)
        assert "'sales'" in message and "'region' part 'uk'" in message
        assert "'acme|2024-01-02|eu'" in message  # nearest keys keep the other parts
        assert "<customer>|<date>|<region>" in message

    def test_definition_errors(self) -> None:
        daily = DailyPartitionsDefinition("2024-01-01")
        with pytest.raises(InvalidDefinitionError, match="at least two"):
            MultiPartitionsDefinition({"date": daily})
        inner = MultiPartitionsDefinition({"a": daily, "b": StaticPartitionsDefinition(["x"])})
        with pytest.raises(InvalidDefinitionError, match="itself multi-partitioned"):
            MultiPartitionsDefinition({"inner": inner, "c": daily})
        with pytest.raises(InvalidNameError):
            MultiPartitionsDefinition({"a b": daily, "c": daily})
