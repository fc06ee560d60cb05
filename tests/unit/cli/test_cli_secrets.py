"""An `EnvVar` secret never shows in CLI output, the run database, or any file raystra writes."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cli_testing import RunCli, run_ids, write

SECRET_PROJECT = """
from raystra import (
    AssetExecutionContext,
    ConfigurableResource,
    Definitions,
    EnvVar,
    OpExecutionContext,
    asset,
    job,
    op,
)


class Warehouse(ConfigurableResource):
    url: str
    token: str


@asset
def public_numbers() -> list[int]:
    return [1, 2, 3]


@asset
def private_report(
    context: AssetExecutionContext, warehouse: Warehouse, public_numbers: list[int]
) -> int:
    context.log.info("connecting to %s with token %s", warehouse.url, warehouse.token)
    print(f"Authorization: Bearer {warehouse.token}")
    raise PermissionError(f"warehouse rejected token {warehouse.token!r}")


@op
def query(context: OpExecutionContext, warehouse: Warehouse) -> str:
    context.log.warning("querying with %s", warehouse.token)
    raise ConnectionError("token " + warehouse.token + " expired")


@job
def nightly():
    query()


defs = Definitions(
    [public_numbers, private_report],
    jobs=[nightly],
    resources={
        "warehouse": Warehouse(url="https://dw.example", token=EnvVar("RAYSTRA_TEST_SECRET"))
    },
)
"""


def test_secret_never_appears_in_output_database_or_files(
    run_cli: RunCli, tmp_path: Path, raystra_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "tok-" + secrets.token_hex(16)
    monkeypatch.setenv("RAYSTRA_TEST_SECRET", token)
    defs_file = write(tmp_path / "secret_defs.py", SECRET_PROJECT)
    outputs: list[str] = []

    def run(*args: str | Path, code: int) -> str:
        done = run_cli(*args)
        assert done.exit_code == code, (args, done.output)
        outputs.append(done.output)
        return done.output

    run("check", "-f", defs_file, code=0)
    failed = run("materialize", "-f", defs_file, code=1)
    (run_id,) = run_ids(failed)
    assert "PermissionError: warehouse rejected token '***'" in failed
    show = run("runs", "show", run_id, code=0)
    assert "Traceback (most recent call last)" in show  # the traceback is there, redacted
    logs = run("runs", "logs", run_id, code=0)
    assert "with token ***" in logs and "Authorization: Bearer ***" in logs
    again = run("reexecute", run_id, "--from-failure", "-f", defs_file, code=1)
    (rerun_id,) = run_ids(again)
    run("runs", "show", rerun_id, code=0)
    run("runs", "logs", rerun_id, code=0)
    job_out = run("job", "run", "nightly", "-f", defs_file, code=1)
    (job_run,) = run_ids(job_out)
    run("runs", "show", job_run, code=0)
    assert "querying with ***" in run("runs", "logs", job_run, code=0)
    run("job", "list", "-f", defs_file, code=0)
    run("runs", "list", code=0)
    run("assets", "list", "-f", defs_file, code=0)
    run("--debug", "runs", "show", "no-such-run", code=2)

    for output in outputs:
        assert token not in output
    database = raystra_home / "raystra.db"
    assert database.is_file() and token.encode() not in database.read_bytes()
    written = [path for path in raystra_home.rglob("*") if path.is_file()]
    assert len(written) > 1  # the database and at least one stored asset value
    for path in written:
        assert token.encode() not in path.read_bytes(), path
