"""Where run storage lives: argument, $RAYSTRA_STORAGE_URL, [tool.raystra] storage_url, home."""

from __future__ import annotations

from pathlib import Path

import pytest

from raystra.storage import RunRecord, configured_storage_url, open_storage


def test_pyproject_storage_url_is_used_with_environment_variables_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.raystra]\nmodule = "pipelines"\nstorage_url = "sqlite:///${RUNS_DIR}/runs.db"\n'
    )
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "shared"))
    (tmp_path / "shared").mkdir()
    monkeypatch.chdir(project / "src")  # found from a subdirectory too
    assert configured_storage_url() == f"sqlite:///{tmp_path}/shared/runs.db"
    open_storage().add_run(RunRecord(run_id="r1"))
    assert (tmp_path / "shared" / "runs.db").exists()

    monkeypatch.setenv("RAYSTRA_STORAGE_URL", f"sqlite:///{tmp_path}/env.db")
    assert configured_storage_url() == f"sqlite:///{tmp_path}/env.db"  # the environment wins


def test_without_configuration_runs_go_to_sqlite_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raystra_home: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert configured_storage_url() is None
    open_storage().add_run(RunRecord(run_id="r1"))
    assert (raystra_home / "raystra.db").exists()
