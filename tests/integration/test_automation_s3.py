"""`new_files_sensor` watching an S3 prefix on a real local endpoint (moto's server, s3fs).

The daemon's real iteration runs with a stepped clock and launches runs inline (in-process
executor); credentials reach the sensor as `EnvVar` in ``storage_options``, read when it runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import fsspec
import pytest

from raystra import (
    AssetExecutionContext,
    AssetKey,
    DefaultSensorStatus,
    Definitions,
    DynamicPartitionsDefinition,
    asset,
    new_files_sensor,
)
from raystra.automation._daemon import AutomationDaemon
from raystra.automation._launcher import RunLauncher
from raystra.storage import RunStorage, open_storage

if TYPE_CHECKING:  # the fixture's type; conftest modules are not imported by tests
    from conftest import S3Endpoint

pytestmark = pytest.mark.integration

S3_KEY_ENV = "RAYSTRA_TEST_S3_KEY"


@pytest.fixture
def storage() -> Iterator[RunStorage]:
    store = open_storage()
    yield store
    store.close()


class Project:
    """A landing prefix, the sensor watching it, and a daemon stepped by hand."""

    def __init__(self, s3: S3Endpoint, storage: RunStorage) -> None:
        self.s3 = s3
        self.storage = storage
        self.prefix = f"s3://{s3.bucket}/{uuid.uuid4().hex[:12]}/landing"
        self.fs = s3.filesystem()
        files = DynamicPartitionsDefinition(name="s3_files")
        prefix, options = self.prefix, s3.storage_options(from_env=False)

        @asset(partitions_def=files)
        def landed_rows(context: AssetExecutionContext) -> int:
            with fsspec.open(f"{prefix}/{context.partition_key}.csv", "rt", **options) as f:
                return len(f.read().splitlines())

        watch = new_files_sensor(
            self.prefix + "/",
            target="landed_rows",
            name="s3_landing",
            pattern="*.csv",
            partitions_def=files,
            storage_options=s3.storage_options(),  # EnvVar credentials
            minimum_interval_seconds=1,
            default_status=DefaultSensorStatus.RUNNING,
        )
        self.defs = Definitions(assets=[landed_rows], sensors=[watch])
        self.daemon = AutomationDaemon(
            self.defs, storage, launcher=RunLauncher(self.defs, storage, synchronous=True)
        )
        self.now = datetime(2024, 3, 1, 12, tzinfo=UTC)

    def drop(self, name: str, rows: int) -> None:
        self.fs.pipe(f"{self.prefix}/{name}", b"x\n" * rows)  # one PUT: never half-listed

    def step(self) -> list[str]:
        self.now += timedelta(seconds=5)
        report = self.daemon.iterate(self.now)
        assert report.errors == [], report.errors
        return report.launched


def test_s3_files_each_launch_one_run_of_a_new_dynamic_partition(
    s3_server: S3Endpoint, storage: RunStorage
) -> None:
    project = Project(s3_server, storage)
    assert project.step() == []  # the prefix does not exist yet
    assert "does not exist yet" in (storage.get_ticks("s3_landing")[0].skip_reason or "")

    project.drop("a.csv", 1)
    project.drop("b.csv", 2)
    project.drop("notes.txt", 5)  # does not match the pattern
    assert len(project.step()) == 2
    assert sorted(storage.get_dynamic_partitions("s3_files")) == ["a", "b"]
    runs = storage.get_runs()
    assert {r.status.value for r in runs} == {"SUCCESS"}
    assert sorted(r.tags["raystra/file"] for r in runs) == [
        f"{project.prefix}/a.csv",
        f"{project.prefix}/b.csv",
    ]
    states = storage.partition_states(AssetKey("landed_rows"))
    assert {p: s.status for p, s in states.items()} == {"a": "materialized", "b": "materialized"}
    assert project.step() == []

    project.drop("c.csv", 3)  # often within the same second as a and b: S3 keeps whole seconds
    (run_id,) = project.step()
    assert storage.get_run(run_id).tags["raystra/file"] == f"{project.prefix}/c.csv"
    assert sorted(storage.get_dynamic_partitions("s3_files")) == ["a", "b", "c"]
    assert project.step() == []
    assert len(storage.get_runs()) == 3

    # Even with the cursor lost, the run keys (the files' paths) refuse a second launch.
    storage.save_instigator_state("s3_landing", kind="sensor", cursor=None)
    assert project.step() == []
    tick = storage.get_ticks("s3_landing")[0]
    assert tick.status == "skipped" and "already requested" in (tick.skip_reason or "")
    assert len(storage.get_runs()) == 3
    materialized = storage.get_materializations(AssetKey("landed_rows"), limit=100)
    assert sorted(m.partition or "" for m in materialized) == ["a", "b", "c"]


def test_missing_credentials_fail_the_tick_naming_the_variable(
    s3_server: S3Endpoint, storage: RunStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(s3_server, storage)
    project.drop("a.csv", 1)
    monkeypatch.delenv(S3_KEY_ENV)
    assert project.step() == []
    tick = storage.get_ticks("s3_landing")[0]
    assert tick.status == "failed"
    assert "storage_options.key" in (tick.error or "") and S3_KEY_ENV in (tick.error or "")
    assert storage.get_runs() == []

    monkeypatch.setenv(S3_KEY_ENV, s3_server.key)
    assert len(project.step()) == 1  # the next tick, once the variable is there
