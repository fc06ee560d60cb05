"""Finding definitions (-m, -f, pyproject.toml, -a) and how loading errors are shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testing import PROJECT, Invoke, RunCli, write


def test_check_with_file_prints_counts(cli: Invoke, defs_file: Path) -> None:
    result = cli("check", "-f", defs_file)
    assert result.exit_code == 0, result.output
    assert "4 assets, 2 groups, 1 job, 0 resources" in result.stdout
    assert str(defs_file) in result.stdout


def test_global_options_work_before_the_command(cli: Invoke, defs_file: Path) -> None:
    result = cli("-f", defs_file, "check")
    assert result.exit_code == 0, result.output
    assert "4 assets" in result.stdout


def test_module_option_imports_from_the_working_directory(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "cli_mod_pkg" / "__init__.py", "")
    write(tmp_path / "cli_mod_pkg" / "definitions.py", PROJECT)
    monkeypatch.chdir(tmp_path)
    result = cli("check", "-m", "cli_mod_pkg.definitions")
    assert result.exit_code == 0, result.output
    assert "module 'cli_mod_pkg.definitions'" in result.stdout


def test_pyproject_module_is_found_from_a_subdirectory(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "cli_pyproj_pkg" / "__init__.py", "")
    write(tmp_path / "cli_pyproj_pkg" / "defs.py", PROJECT)
    write(tmp_path / "pyproject.toml", '[tool.raystra]\nmodule = "cli_pyproj_pkg.defs"\n')
    (tmp_path / "docs" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "docs" / "deep")
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert "4 assets" in result.stdout
    assert str(tmp_path / "pyproject.toml") in result.stdout


def test_pyproject_file_is_relative_to_the_pyproject(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "pipelines" / "main_defs.py", PROJECT)
    write(tmp_path / "pyproject.toml", '[tool.raystra]\nfile = "pipelines/main_defs.py"\n')
    # A nearer pyproject without [tool.raystra] is skipped.
    write(tmp_path / "sub" / "pyproject.toml", '[project]\nname = "x"\n')
    monkeypatch.chdir(tmp_path / "sub")
    result = cli("assets", "list")
    assert result.exit_code == 0, result.output
    assert "revenue" in result.stdout


def test_without_any_pointer_the_error_says_how_to_point_raystra(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("check")
    assert result.exit_code == 2
    assert "-m my_package.definitions" in result.stderr
    assert "-f path/to/definitions.py" in result.stderr
    assert "[tool.raystra]" in result.stderr
    assert "Traceback" not in result.output


def test_file_from_another_cwd_imports_its_siblings(run_cli: RunCli, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    write(project / "shared_rows.py", "ROWS = [1, 2, 3]\n")
    write(
        project / "pipeline.py",
        """
        from raystra import asset
        from shared_rows import ROWS

        @asset
        def numbers() -> list[int]:
            return ROWS
        """,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli("materialize", "-f", "../proj/pipeline.py", cwd=elsewhere)
    assert done.exit_code == 0, done.output
    assert "numbers SUCCESS" in done.stdout


def test_file_inside_a_package_imports_as_part_of_it(run_cli: RunCli, tmp_path: Path) -> None:
    package = tmp_path / "repo" / "shop" / "pipelines"
    write(tmp_path / "repo" / "shop" / "__init__.py", "")
    write(package / "__init__.py", "")
    write(package / "rows.py", "ROWS = [4, 5]\n")
    write(
        package / "definitions.py",
        """
        from raystra import Definitions, asset
        from shop.pipelines.rows import ROWS
        from .rows import ROWS as SAME_ROWS

        @asset
        def numbers() -> list[int]:
            return ROWS + SAME_ROWS

        defs = Definitions([numbers])
        """,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli("materialize", "-f", str(package / "definitions.py"), cwd=elsewhere)
    assert done.exit_code == 0, done.output
    assert "numbers SUCCESS" in done.stdout


def test_pyproject_discovery_in_a_real_process(run_cli: RunCli, tmp_path: Path) -> None:
    write(tmp_path / "app" / "cli_proc_defs.py", PROJECT)
    write(tmp_path / "app" / "pyproject.toml", '[tool.raystra]\nmodule = "cli_proc_defs"\n')
    done = run_cli("check", cwd=tmp_path / "app")
    assert done.exit_code == 0, done.output
    assert "Definitions OK" in done.stdout


def test_attribute_picks_one_of_several_definitions(cli: Invoke, tmp_path: Path) -> None:
    path = write(
        tmp_path / "two.py",
        """
        from raystra import Definitions, asset

        @asset
        def a() -> int:
            return 1

        @asset
        def b() -> int:
            return 2

        small = Definitions([a])
        large = Definitions([a, b])
        """,
    )
    ambiguous = cli("check", "-f", path)
    assert ambiguous.exit_code == 2
    assert "several Definitions objects (large, small)" in ambiguous.stderr
    assert "-a/--attribute" in ambiguous.stderr
    chosen = cli("check", "-f", path, "-a", "large")
    assert chosen.exit_code == 0, chosen.output
    assert "2 assets" in chosen.stdout
    missing = cli("check", "-f", path, "-a", "nope")
    assert missing.exit_code == 2
    assert "no attribute 'nope'" in missing.stderr and "large, small" in missing.stderr


def test_module_without_definitions_gathers_assets_and_jobs(cli: Invoke, tmp_path: Path) -> None:
    path = write(
        tmp_path / "loose.py",
        """
        from raystra import AssetSpec, asset, job, op

        source = AssetSpec("vendor/prices", group_name="vendor")

        @asset(deps=["vendor/prices"])
        def prices() -> int:
            return 1

        @op
        def hello() -> str:
            return "hi"

        @job
        def greet():
            hello()
        """,
    )
    result = cli("check", "-f", path)
    assert result.exit_code == 0, result.output
    assert "2 assets (1 external), 2 groups, 1 job" in result.stdout


CYCLE = """
from raystra import Definitions, asset

@asset(deps=["b"])
def a() -> int:
    return 1

@asset(deps=["a"])
def b() -> int:
    return 1

defs = Definitions([a, b])
"""

UNKNOWN_DEP = """
from raystra import Definitions, asset

@asset
def orders() -> int:
    return 1

@asset
def revenue(ordrs: int) -> int:
    return ordrs

defs = Definitions([orders, revenue])
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (CYCLE, "The asset graph has a cycle: a -> b -> a"),
        (UNKNOWN_DEP, "depends on 'ordrs', which is not defined. Did you mean 'orders'?"),
    ],
    ids=["cycle", "unknown-dep"],
)
def test_validation_errors_are_one_paragraph_exit_2(
    cli: Invoke, tmp_path: Path, source: str, expected: str
) -> None:
    path = write(tmp_path / "broken.py", source)
    for command in (["check"], ["materialize"], ["assets", "list"], ["job", "list"]):
        result = cli(*command, "-f", path)
        assert result.exit_code == 2, (command, result.output)
        assert result.stdout == ""
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("Error: ") and expected in lines[0]


def test_debug_adds_the_traceback(cli: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path / "broken.py", CYCLE)
    result = cli("--debug", "check", "-f", path)
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "raystra.errors.CycleError" in result.stderr
    assert "Error: The asset graph has a cycle" in result.stderr


def test_import_error_names_the_exception_and_the_user_line(cli: Invoke, tmp_path: Path) -> None:
    write(tmp_path / "settings_helper.py", "def load():\n    raise KeyError('WAREHOUSE_URL')\n")
    path = write(tmp_path / "uses_helper.py", "import settings_helper\n\nsettings_helper.load()\n")
    result = cli("check", "-f", path)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    message = result.stderr
    assert "KeyError: 'WAREHOUSE_URL'" in message
    assert f"{tmp_path / 'settings_helper.py'}:2" in message
    assert "--debug" in message

    debug = cli("--debug", "check", "-f", path)
    assert "Traceback (most recent call last)" in debug.stderr
    assert "settings_helper.load()" in debug.stderr


def test_syntax_error_and_missing_module_are_readable(cli: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path / "typo.py", "def broken(:\n    pass\n")
    result = cli("check", "-f", path)
    assert result.exit_code == 2
    assert "SyntaxError" in result.stderr and f"{path}:1" in result.stderr
    assert "Traceback" not in result.output

    missing = cli("check", "-m", "cli_no_such_module_anywhere")
    assert missing.exit_code == 2
    assert "was not found on the Python path" in missing.stderr

    no_file = cli("check", "-f", tmp_path / "absent.py")
    assert no_file.exit_code == 2
    assert "does not exist" in no_file.stderr


def test_module_and_file_together_are_refused(cli: Invoke, defs_file: Path) -> None:
    result = cli("check", "-m", "x", "-f", defs_file)
    assert result.exit_code == 2
    assert "either -m/--module or -f/--file" in result.stderr


def test_version_and_python_dash_m(run_cli: RunCli, cli: Invoke) -> None:
    import raystra

    assert cli("--version").stdout.strip() == f"raystra {raystra.__version__}"
    done = run_cli("--version")
    assert done.exit_code == 0 and done.stdout.strip() == f"raystra {raystra.__version__}"


def test_file_named_like_an_installed_module_is_refused(cli: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path / "json.py", PROJECT)
    result = cli("check", "-f", path)
    assert result.exit_code == 2
    assert "same name as the installed module 'json'" in result.stderr
    import json

    assert json.dumps([1]) == "[1]"  # the real module is untouched
