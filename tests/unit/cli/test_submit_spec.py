"""What `raystra submit` sends: the entrypoint and runtime_env, and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from raystra.errors import RaystraError
from raystra.execution.ray._submit import JobSpec, job_address


def test_the_entrypoint_runs_the_raystra_cli_with_the_definitions_target(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "daily.py").write_text("")
    spec = JobSpec(
        command=("backfill", "--select", "orders and group:sales", "--from", "2024-01-01"),
        file=Path("pipelines/daily.py"),
        working_dir=tmp_path,
    )
    assert spec.entrypoint() == (
        "raystra -f pipelines/daily.py backfill --select 'orders and group:sales' --from 2024-01-01"
    )


def test_runtime_env_uploads_the_project_with_requirements_and_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAYSTRA_STORAGE_URL", "postgresql+psycopg://db/raystra")
    (tmp_path / "requirements.txt").write_text("# pinned\npolars>=1.0\n\ns3fs\n")
    spec = JobSpec(
        command=("materialize",),
        module="my_project",
        working_dir=tmp_path,
        requirements=tmp_path / "requirements.txt",
        pip=("scikit-learn",),
        env={"TEAM": "data"},
    )
    env = spec.runtime_env()
    assert env["working_dir"] == str(tmp_path.resolve())
    assert env["pip"] == ["scikit-learn", "polars>=1.0", "s3fs"]
    assert env["env_vars"] == {
        "RAYSTRA_STORAGE_URL": "postgresql+psycopg://db/raystra",
        "TEAM": "data",
    }
    assert ".venv" in env["excludes"] and ".git" in env["excludes"]


def test_refusals_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RaystraError, match="materialize, backfill"):
        JobSpec(command=("assets", "list")).entrypoint()
    outside = JobSpec(
        command=("materialize",), file=Path("/elsewhere/defs.py"), working_dir=tmp_path
    )
    with pytest.raises(RaystraError, match="outside the working directory"):
        outside.entrypoint()
    with pytest.raises(RaystraError, match="--address http://HEAD:8265"):
        job_address("ray://head:10001")
