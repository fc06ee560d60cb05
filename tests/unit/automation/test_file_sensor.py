"""`new_files_sensor` on a local directory: ties in modification time, limits, bad names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from raystra import (
    AssetExecutionContext,
    AssetKey,
    DefaultSensorStatus,
    Definitions,
    DynamicPartitionsDefinition,
    InvalidDefinitionError,
    asset,
    new_files_sensor,
)
from raystra.storage import RunStorage

FILES = DynamicPartitionsDefinition(name="landing")


@asset(partitions_def=FILES)
def landed(context: AssetExecutionContext) -> str:
    return context.partition_key


def watch(path: Path, **options):  # type: ignore[no-untyped-def]
    return new_files_sensor(
        str(path),
        target="landed",
        name="landing_dir",
        pattern="*.csv",
        partitions_def=FILES,
        minimum_interval_seconds=1,
        default_status=DefaultSensorStatus.RUNNING,
        **options,
    )


def partitions(storage: RunStorage) -> list[str | None]:
    return sorted(m.partition for m in storage.get_materializations(AssetKey("landed"), limit=99))


def test_files_with_the_same_mtime_are_each_picked_up_once(stepped, storage, tmp_path) -> None:
    for name in ("a.csv", "b.csv", "c.csv", "skip.txt"):
        (tmp_path / name).write_text("1\n")
        os.utime(tmp_path / name, (1_700_000_000, 1_700_000_000))  # a store with coarse times
    daemon = stepped(Definitions(assets=[landed], sensors=[watch(tmp_path, max_files_per_tick=2)]))
    assert len(daemon.step(seconds=5).launched) == 2  # the per-tick limit
    assert len(daemon.step(seconds=5).launched) == 1  # the rest, though its mtime equals theirs
    assert daemon.step(seconds=5).launched == []
    assert partitions(storage) == ["a", "b", "c"]

    (tmp_path / "d.csv").write_text("1\n")
    os.utime(tmp_path / "d.csv", (1_700_000_000, 1_700_000_000))  # same second, listed later
    assert len(daemon.step(seconds=5).launched) == 1
    assert daemon.step(seconds=5).launched == []
    assert partitions(storage) == ["a", "b", "c", "d"]
    assert storage.get_ticks("landing_dir")[0].skip_reason == (
        f"no new files matching '*.csv' under {tmp_path}"
    )


def test_files_in_subdirectories_count_and_key_by_their_name(stepped, storage, tmp_path) -> None:
    (tmp_path / "2024" / "03").mkdir(parents=True)
    (tmp_path / "2024" / "03" / "orders.csv.gz").write_text("1\n")
    daemon = stepped(
        Definitions(
            assets=[landed],
            sensors=[watch(tmp_path, partition_key_fn=lambda url: url.split("/")[-3])],
        )
    )
    daemon.step(seconds=5)
    # Patterns match names (with every extension); the key function sees the whole path.
    (tmp_path / "2024" / "03" / "orders.csv").write_text("1\n")
    (run_id,) = daemon.step(seconds=5).launched
    assert storage.get_run(run_id).tags["raystra/file"].endswith("/2024/03/orders.csv")
    assert partitions(storage) == ["2024"]


def test_a_file_whose_name_is_no_partition_key_fails_the_tick_naming_it(
    stepped, storage, tmp_path
) -> None:
    (tmp_path / "q1,q2.csv").write_text("1\n")
    daemon = stepped(Definitions(assets=[landed], sensors=[watch(tmp_path)]))
    assert daemon.step(seconds=5).launched == []
    tick = storage.get_ticks("landing_dir")[0]
    assert tick.status == "failed"
    assert "q1,q2.csv" in (tick.error or "") and "'q1,q2' contains ','" in (tick.error or "")
    assert storage.get_dynamic_partitions("landing") == []

    (tmp_path / "q1,q2.csv").rename(tmp_path / "q1_q2.csv")  # what the error suggests
    assert len(daemon.step(seconds=5).launched) == 1
    assert partitions(storage) == ["q1_q2"]


def test_bad_arguments_are_refused_when_defined(tmp_path: Path) -> None:
    with pytest.raises(InvalidDefinitionError, match="path must be a non-empty string"):
        new_files_sensor("", target="landed", name="x")
    with pytest.raises(InvalidDefinitionError, match="DynamicPartitionsDefinition"):
        new_files_sensor(str(tmp_path), target="landed", name="x", partitions_def="landing")  # type: ignore[arg-type]
    with pytest.raises(InvalidDefinitionError, match="max_files_per_tick=0"):
        new_files_sensor(str(tmp_path), target="landed", name="x", max_files_per_tick=0)
