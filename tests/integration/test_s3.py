"""raystra's IO managers on S3: a real local endpoint (moto's server over HTTP), s3fs as client.

Credentials reach the IO managers only as `EnvVar` inside ``storage_options``; every test that
runs steps checks the key and secret appear nowhere a run leaves text: events, log lines, the
run database and raised errors.
"""

from __future__ import annotations

import pickle
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import fsspec
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

import raystra
from raystra import (
    AssetExecutionContext,
    DailyPartitionsDefinition,
    Definitions,
    EnvVar,
    PartitionRequest,
    asset,
)
from raystra.api import run_events
from raystra.definitions import AssetKey, InputContext, OutputContext
from raystra.errors import StepExecutionError
from raystra.testing.io_manager_suite import (
    IOManagerConformance,
    half_written_value,
    input_for,
    output_for,
)
from raystra_io import FsspecIOManager, ParquetIOManager, PickleIOManager
from raystra_io._atomic import is_temp_name

try:
    import dask.dataframe as dd
except ImportError:  # only the Dask test needs it
    dd = None

if TYPE_CHECKING:  # the fixture's type; conftest modules are not imported by tests
    from conftest import S3Endpoint

pytestmark = pytest.mark.integration

DAYS = DailyPartitionsDefinition(start_date="2024-03-01", end_date="2024-03-05")  # 4 days


def _prefix(s3: S3Endpoint) -> str:
    return f"s3://{s3.bucket}/{uuid.uuid4().hex[:12]}"


# The conformance suite, on S3 ----------------------------------------------------------------


class _OnS3:
    """Suite plumbing: a fresh prefix per test, credentials resolved from `EnvVar` as a step
    would, and the suite's own file checks going to the same endpoint."""

    manager_class: type[ParquetIOManager | PickleIOManager]

    @pytest.fixture(autouse=True)
    def _endpoint(self, s3_server: S3Endpoint) -> None:
        self.s3 = s3_server

    @pytest.fixture
    def io_manager(self, s3_server: S3Endpoint) -> Any:
        manager = self.manager_class(
            base_path=_prefix(s3_server), storage_options=s3_server.storage_options()
        )
        resolved, secrets = manager.resolved(resource_key="io_manager")
        assert set(secrets) == set(s3_server.secrets)
        return resolved

    def filesystem(self, url: str) -> tuple[Any, str]:
        fs, path = fsspec.core.url_to_fs(url, **self.s3.storage_options(from_env=False))
        return fs, str(path)


class TestParquetOnS3(_OnS3, IOManagerConformance):
    manager_class = ParquetIOManager


class TestPickleOnS3(_OnS3, IOManagerConformance):
    manager_class = PickleIOManager


# Round trip and layout -----------------------------------------------------------------------


def test_partitions_are_hive_paths_readable_by_pyarrow(s3_server: S3Endpoint) -> None:
    base = _prefix(s3_server)
    manager, _ = ParquetIOManager(
        base_path=base, storage_options=s3_server.storage_options()
    ).resolved()
    sales = AssetKey(["shop", "sales"])
    paths = []
    for day in ("2024-03-01", "2024-03-02"):
        out = output_for(sales, partition_key=day)
        metadata = manager.handle_output(out, pa.table({"amount": [1.0, 2.0]}))
        paths.append(metadata["path"])
        loaded = manager.load_input(input_for(out, pa.Table))
        assert loaded.column("amount").to_pylist() == [1.0, 2.0]
    assert paths == [
        f"{base}/shop/sales/partition={day}/data.parquet" for day in ("2024-03-01", "2024-03-02")
    ]
    table = _read_dataset(s3_server, f"{base}/shop/sales")
    assert sorted(table.column("partition").to_pylist()) == ["2024-03-01"] * 2 + ["2024-03-02"] * 2


# Backfills, in process and on Ray ------------------------------------------------------------


@asset(partitions_def=DAYS, group_name="shop")
def daily_sales(context: AssetExecutionContext) -> pa.Table:
    day = context.partition_key
    context.log.info("computing sales for %s", day)
    return pa.table({"day": [day] * 3, "amount": [1.0, 2.0, 3.0]})


@asset(partitions_def=DAYS, group_name="shop")
def daily_total(daily_sales: pa.Table) -> pa.Table:
    return pa.table({"total": [pa.compute.sum(daily_sales.column("amount")).as_py()]})


def _defs(base_path: str, storage_options: dict[str, Any]) -> Definitions:
    io_manager = ParquetIOManager(base_path=base_path, storage_options=storage_options)
    return Definitions([daily_sales, daily_total], resources={"io_manager": io_manager})


@pytest.fixture(params=["in_process", "ray"])
def executor(request: pytest.FixtureRequest, s3_server: S3Endpoint) -> str:
    """Each backfill test once in process and once on the session's Ray."""
    if request.param == "ray":
        request.getfixturevalue("on_ray")
    return str(request.param)


def test_partitioned_backfill_writes_hive_parquet_on_s3(
    s3_server: S3Endpoint, executor: str, raystra_home: Path
) -> None:
    base = _prefix(s3_server)
    defs = _defs(base, s3_server.storage_options())
    # The definitions (shipped to Ray workers, stored nowhere else) hold only variable names.
    given = defs.resources["io_manager"].storage_options
    assert isinstance(given["secret"], EnvVar)
    assert given["secret"] == s3_server.storage_options()["secret"]

    result = raystra.backfill(defs, "*", partitions=PartitionRequest(all=True))

    assert result.success, result.record
    assert result.record.counts == {"materialized": 8}
    paths = {m.metadata["path"] for m in result.run.materializations}
    days = [f"2024-03-0{n}" for n in range(1, 5)]
    assert paths == {
        f"{base}/{asset_name}/partition={day}/data.parquet"
        for asset_name in ("daily_sales", "daily_total")
        for day in days
    }
    # Read back with another S3 client (Arrow's own), as hive-partitioned Parquet.
    sales = _read_dataset(s3_server, f"{base}/daily_sales")
    assert sales.num_rows == 12
    assert sorted(set(sales.column("partition").to_pylist())) == days
    totals = _read_dataset(s3_server, f"{base}/daily_total")
    assert totals.column("total").to_pylist() == [6.0] * 4
    assert not [name for name in _objects(s3_server, base) if is_temp_name(name)]
    # And through the IO manager, resolving the EnvVar credentials here.
    manager, _ = defs.resources["io_manager"].resolved()
    stored = output_for(AssetKey("daily_total"), partition_key="2024-03-02")
    assert manager.load_input(input_for(stored)).column("total").to_pylist() == [6.0]
    _assert_no_secret(s3_server, result.run.run_id, raystra_home)


@asset(name="model")
def model_v1() -> dict[str, int]:
    return {"version": 1}


@asset(name="model")
def model_broken() -> dict[str, object]:
    return half_written_value()  # several MB, then a serialisation error


def test_failed_write_in_a_run_keeps_previous_object(s3_server: S3Endpoint, executor: str) -> None:
    manager = PickleIOManager(
        base_path=_prefix(s3_server), storage_options=s3_server.storage_options()
    )
    resources = {"io_manager": manager}
    assert raystra.materialize(Definitions([model_v1], resources=resources)).success

    failed = raystra.materialize(
        Definitions([model_broken], resources=resources), raise_on_error=False
    )

    assert not failed.success
    assert "boom" in failed.failed_steps[0].error.message
    assert [name.rsplit("/", 1)[-1] for name in _objects(s3_server, manager.base_path)] == [
        "model.pkl"
    ]
    resolved, _ = manager.resolved()
    assert resolved.load_input(input_for(output_for(AssetKey("model")))) == {"version": 1}


# Secrets in failures -------------------------------------------------------------------------


def test_write_to_missing_bucket_fails_without_secret_or_bucket(
    s3_server: S3Endpoint, executor: str, raystra_home: Path
) -> None:
    missing = f"raystra-missing-{uuid.uuid4().hex[:8]}"
    defs = _defs(f"s3://{missing}/data", s3_server.storage_options())

    with pytest.raises(StepExecutionError) as info:
        raystra.materialize(defs, selection="daily_sales", partition_key="2024-03-01")

    _assert_secret_free(s3_server, str(info.value))
    run_id = _last_run_id()
    (failed,) = _events_of(run_id, "StepFailed")
    assert "bucket does not exist" in failed.error.message
    # The error names the object it could not write.
    written = f"s3://{missing}/data/daily_sales/partition=2024-03-01/data.parquet"
    assert f"While writing {written}" in failed.error.traceback
    # The IO manager must not create buckets: a typo in base_path fails, loudly.
    assert not s3_server.filesystem().exists(missing)
    _assert_no_secret(s3_server, run_id, raystra_home)


@asset
def careless(context: AssetExecutionContext, io_manager: ParquetIOManager) -> int:
    # User code that leaks the resolved credentials every way it can.
    options = io_manager.storage_options
    context.log.info("connecting with %s", options)
    print(f"secret is {options['secret']}")
    raise PermissionError(f"rejected key {options['key']} / {options['secret']}")


def test_resolved_storage_options_are_redacted_from_logs_and_errors(
    s3_server: S3Endpoint, executor: str, raystra_home: Path
) -> None:
    io_manager = ParquetIOManager(
        base_path=_prefix(s3_server), storage_options=s3_server.storage_options()
    )
    defs = Definitions([careless], resources={"io_manager": io_manager})

    with pytest.raises(StepExecutionError) as info:
        raystra.materialize(defs)

    _assert_secret_free(s3_server, str(info.value))
    run_id = _last_run_id()
    logs = "\n".join(event.message for event in _events_of(run_id, "LogMessage"))
    assert "'secret': '***'" in logs and "secret is ***" in logs
    (failed,) = _events_of(run_id, "StepFailed")
    assert "rejected key *** / ***" in failed.error.message
    _assert_no_secret(s3_server, run_id, raystra_home)


@pytest.fixture
def s3_auth(s3_server: S3Endpoint) -> Iterator[None]:
    """Make the server check credentials (moto's documented switch), for one test."""

    def reset_auth(count: str) -> None:
        request = urllib.request.Request(
            f"{s3_server.endpoint_url}/moto-api/reset-auth",
            data=count.encode(),
            # Not form-encoded, or the server parses the body as a form and finds no count.
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    reset_auth("0")  # every request from now on must carry known (IAM) credentials
    try:
        yield
    finally:
        reset_auth("inf")


def test_rejected_credentials_fail_without_secret(
    s3_server: S3Endpoint, executor: str, s3_auth: None, raystra_home: Path
) -> None:
    defs = _defs(_prefix(s3_server), s3_server.storage_options())

    result = raystra.materialize(
        defs, selection="daily_sales", partition_key="2024-03-01", raise_on_error=False
    )

    assert not result.success
    (failed,) = result.failed_steps
    assert "Access Key Id" in failed.error.message  # the store's own words reach the user
    _assert_no_secret(s3_server, result.run_id, raystra_home)


def test_unset_credential_variable_is_named_not_guessed(
    s3_server: S3Endpoint, raystra_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = s3_server.storage_options()
    options["client_kwargs"] = {**options["client_kwargs"], "aws_session_token": EnvVar("NOPE_S3")}
    monkeypatch.delenv("NOPE_S3", raising=False)
    defs = _defs(_prefix(s3_server), options)

    result = raystra.materialize(
        defs, selection="daily_sales", partition_key="2024-03-01", raise_on_error=False
    )

    (failed,) = result.failed_steps
    message = failed.error.message
    assert "'storage_options.client_kwargs.aws_session_token'" in message
    assert "'NOPE_S3'" in message
    _assert_no_secret(s3_server, result.run_id, raystra_home)


# A custom IO manager on the fsspec base, and engine reads, on S3 ------------------------------

hook_calls: list[tuple[str, str]] = []  # (hook, context.path): steps run in this process


class PickleObjects(FsspecIOManager):
    """A user's own manager: stdlib pickle through the fsspec base."""

    extension: ClassVar[str] = "pickle"

    def dump_to_path(self, context: OutputContext, obj: Any, path: str) -> None:
        hook_calls.append(("dump", context.path))
        with self.open(path, "wb") as file:
            pickle.dump(obj, file)

    def load_from_path(self, context: InputContext, path: str) -> Any:
        hook_calls.append(("load", context.path))
        with self.open(path, "rb") as file:
            return pickle.load(file)


class TestCustomManagerOnS3(_OnS3, IOManagerConformance):
    manager_class = PickleObjects  # type: ignore[assignment]
    converts_tables = False
    reports_table_metadata = False


@asset(partitions_def=DAYS, io_manager_key="objects")
def daily_labels(context: AssetExecutionContext) -> list[str]:
    return [context.partition_key]


@asset(partitions_def=DAYS)
def label_count(daily_labels: list[str]) -> int:
    return len(daily_labels)


def test_custom_manager_hooks_see_the_s3_url(s3_server: S3Endpoint, raystra_home: Path) -> None:
    base = _prefix(s3_server)
    objects = PickleObjects(base_path=base, storage_options=s3_server.storage_options())
    defs = Definitions([daily_labels, label_count], resources={"objects": objects})
    hook_calls.clear()

    built = raystra.materialize(defs, "daily_labels", partition_key="2024-03-02")
    raystra.materialize(defs, "label_count", partition_key="2024-03-02")  # loads from S3

    url = f"{base}/daily_labels/partition=2024-03-02/data.pickle"
    assert [m.metadata["path"] for m in built.materializations] == [url]
    assert hook_calls == [("dump", url), ("load", url)]
    _assert_no_secret(s3_server, built.run_id, raystra_home)


@asset(partitions_def=DAYS)
def daily_visits(context: AssetExecutionContext) -> pa.Table:
    return pa.table({"visits": [int(context.partition_key[-1])] * 2})


@asset
def visits_by_day(daily_visits: dd.DataFrame) -> pa.Table:  # every day, as one Dask frame
    assert isinstance(daily_visits, dd.DataFrame)
    frame = daily_visits.compute()
    totals = frame.groupby("partition", observed=True)["visits"].sum()
    return pa.table({"day": totals.index.astype(str).tolist(), "visits": totals.tolist()})


@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index")
def test_dask_reads_several_s3_partitions_as_one_frame(
    s3_server: S3Endpoint, raystra_home: Path
) -> None:
    pytest.importorskip("dask.dataframe")
    base = _prefix(s3_server)
    io_manager = ParquetIOManager(base_path=base, storage_options=s3_server.storage_options())
    defs = Definitions([daily_visits, visits_by_day], resources={"io_manager": io_manager})

    result = raystra.materialize(defs, partition_range="2024-03-01...2024-03-04")

    [report] = [
        m for m in result.materializations if m.asset_key.to_user_string() == "visits_by_day"
    ]
    assert _read_dataset(s3_server, report.metadata["path"]).to_pydict() == {
        "day": ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"],
        "visits": [2, 4, 6, 8],
    }
    _assert_no_secret(s3_server, result.run_id, raystra_home)


# Helpers -------------------------------------------------------------------------------------


def _read_dataset(s3: S3Endpoint, url: str) -> pa.Table:
    """Read ``url`` as hive-partitioned Parquet through Arrow's native S3 client."""
    filesystem = pafs.S3FileSystem(
        access_key=s3.key,
        secret_key=s3.secret,
        endpoint_override=s3.endpoint_url,
        region="us-east-1",
    )
    dataset = ds.dataset(
        url.removeprefix("s3://"), filesystem=filesystem, format="parquet", partitioning="hive"
    )
    return dataset.to_table()


def _objects(s3: S3Endpoint, url: str) -> list[str]:
    return [str(name) for name in s3.filesystem().find(url.removeprefix("s3://"))]


def _last_run_id() -> str:
    (run,) = raystra.api.list_runs(limit=1)
    return run.run_id


def _events_of(run_id: str, kind: str) -> list[Any]:
    return run_events(run_id, kinds=[kind])


def _assert_secret_free(s3: S3Endpoint, text: str) -> None:
    for secret in s3.secrets:
        assert secret not in text


def _assert_no_secret(s3: S3Endpoint, run_id: str, raystra_home: Path) -> None:
    """Neither credential is in any stored event (logs included), in the database file, or in
    any file raystra wrote."""
    events = run_events(run_id)
    assert events, "the run stored no events"
    for event in events:
        _assert_secret_free(s3, repr(event))
    for path in raystra_home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for secret in s3.secrets:
                assert secret.encode() not in content, path
