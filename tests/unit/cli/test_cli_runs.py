"""materialize, runs list/show/logs, reexecute, assets list and job commands, end to end."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from cli_testing import Invoke, run_ids
from rich.console import Console

from raystra.cli import _progress


def fix(defs_file: Path) -> None:
    (defs_file.parent / "fixed").touch()


def test_materialize_success_prints_steps_and_summary(cli: Invoke, defs_file: Path) -> None:
    fix(defs_file)
    result = cli("materialize", "-f", defs_file)
    assert result.exit_code == 0, result.output
    out = result.stdout
    (run_id,) = run_ids(out)
    assert f"Run {run_id} started: 4 step(s)" in out
    for step in ("orders", "customers", "revenue", "report"):
        assert f"] {step} SUCCESS" in out
    assert "3 rows" in out  # the Parquet IO manager reports row counts for tables
    assert f"Run {run_id} SUCCESS" in out


def test_materialize_selection_runs_only_selected(cli: Invoke, defs_file: Path) -> None:
    result = cli("materialize", "-f", defs_file, "--select", "group:raw")
    assert result.exit_code == 0, result.output
    assert "started: 2 step(s)" in result.stdout
    assert "revenue" not in result.stdout

    empty = cli("materialize", "-f", defs_file, "--select", "group:nope")
    assert empty.exit_code == 2
    assert "group" in empty.stderr and "Traceback" not in empty.output

    bad = cli("materialize", "-f", defs_file, "--select", "orders and (")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: ")


def test_failed_run_exits_1_and_runs_show_has_the_traceback(cli: Invoke, defs_file: Path) -> None:
    result = cli("materialize", "-f", defs_file)
    assert result.exit_code == 1, result.output
    (run_id,) = run_ids(result.stdout)
    assert "revenue FAILURE  ValueError: revenue is broken until the fix lands" in result.stdout
    assert "report SKIPPED" in result.stdout
    assert "Step 'revenue' failed: ValueError: revenue is broken" in result.stdout
    assert f"raystra runs show {run_id[:8]}" in result.stdout
    assert "Traceback" not in result.stdout  # the summary stays short

    show = cli("runs", "show", run_id[:6])
    assert show.exit_code == 0, show.output
    out = show.stdout
    assert run_id in out and "FAILURE" in out
    assert "Traceback (most recent call last)" in out
    assert 'raise ValueError("revenue is broken until the fix lands")' in out
    assert "Step 'report' skipped: upstream step 'revenue' failed" in out
    assert "Materialized: customers, orders (3 rows)" in out


def test_runs_logs_prints_stdout_and_context_log_lines(cli: Invoke, defs_file: Path) -> None:
    (run_id,) = run_ids(cli("materialize", "-f", defs_file).stdout)
    logs = cli("runs", "logs", run_id)
    assert logs.exit_code == 0, logs.output
    lines = logs.stdout.splitlines()
    stdout_line = next(line for line in lines if "reading orders from the source" in line)
    assert stdout_line.split()[2:5] == ["orders", "INFO", "stdout"]
    log_line = next(line for line in lines if "summing 3 orders with factor=1" in line)
    assert log_line.split()[2:5] == ["revenue", "INFO", "log"]

    only_log = cli("runs", "logs", run_id[:8], "--source", "log")
    assert "summing 3 orders" in only_log.stdout and "reading orders" not in only_log.stdout
    only_orders = cli("runs", "logs", run_id, "--step", "orders")
    assert "reading orders" in only_orders.stdout and "summing" not in only_orders.stdout
    nothing = cli("runs", "logs", run_id, "--step", "customers")
    assert nothing.exit_code == 0 and "captured no log lines" in nothing.stdout
    unknown = cli("runs", "logs", run_id, "--step", "nope")
    assert unknown.exit_code == 2 and "has no step 'nope'" in unknown.stderr
    bad_source = cli("runs", "logs", run_id, "--source", "syslog")
    assert bad_source.exit_code == 2


def test_reexecute_from_failure_reruns_only_failed_and_skipped(
    cli: Invoke, defs_file: Path
) -> None:
    (failed_id,) = run_ids(cli("materialize", "-f", defs_file).stdout)
    fix(defs_file)
    result = cli("reexecute", failed_id[:8], "--from-failure", "-f", defs_file)
    assert result.exit_code == 0, result.output
    (new_id,) = run_ids(result.stdout)
    assert new_id != failed_id
    assert "started: 2 step(s)" in result.stdout

    show = cli("runs", "show", new_id).stdout
    assert f"Parent run  {failed_id}" in show
    steps = _step_rows(show)
    assert steps == {"revenue": "SUCCESS", "report": "SUCCESS"}

    listed = cli("runs", "list").stdout
    assert f"re-run of {failed_id[:8]}" in listed

    nothing = cli("reexecute", new_id, "--from-failure", "-f", defs_file)
    assert nothing.exit_code == 2 and "no failed or skipped steps" in nothing.stderr
    everything = cli("reexecute", new_id, "-f", defs_file)
    assert everything.exit_code == 0 and "started: 2 step(s)" in everything.stdout


def _step_rows(show_output: str) -> dict[str, str]:
    """``{step: status}`` from the step table of ``runs show``."""
    rows: dict[str, str] = {}
    in_table = False
    for line in show_output.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if line.startswith("┃") and "step" in line:
            in_table = True
        elif in_table and line.startswith("└"):
            break
        elif in_table and line.startswith("│") and len(cells) >= 2:
            rows[cells[0]] = cells[1]
    return rows


def test_runs_list_filters_and_limits(cli: Invoke, defs_file: Path) -> None:
    empty = cli("runs", "list")
    assert empty.exit_code == 0 and "No runs yet" in empty.stdout
    (failed,) = run_ids(cli("materialize", "-f", defs_file).stdout)
    fix(defs_file)
    (succeeded,) = run_ids(cli("materialize", "-f", defs_file, "-s", "group:raw").stdout)
    listed = cli("runs", "list").stdout
    assert listed.index(succeeded[:8]) < listed.index(failed[:8])  # newest first
    assert "customers, orders" in listed
    only_failed = cli("runs", "list", "--status", "failure").stdout
    assert failed[:8] in only_failed and succeeded[:8] not in only_failed
    limited = cli("runs", "list", "--limit", "1").stdout
    assert succeeded[:8] in limited and failed[:8] not in limited
    bad = cli("runs", "list", "--status", "bogus")
    assert bad.exit_code == 2 and "use one of" in bad.stderr


def test_runs_show_unknown_run_is_readable(cli: Invoke) -> None:
    result = cli("runs", "show", "doesnotexist")
    assert result.exit_code == 2
    assert "No run with id 'doesnotexist'" in result.stderr
    assert "Traceback" not in result.output


def test_assets_list_shows_groups_upstream_and_last_materialization(
    cli: Invoke, defs_file: Path
) -> None:
    (run_id,) = run_ids(cli("materialize", "-f", defs_file).stdout)
    result = cli("assets", "list", "-f", defs_file)
    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells
        for line in result.stdout.splitlines()
        if line.startswith("│")
        for cells in [[c.strip() for c in line.strip("│").split("│")]]
    }
    assert rows["orders"][1:3] == ["raw", "0"]
    assert rows["orders"][4:] == [run_id[:8], "3"]
    assert rows["report"][1:3] == ["sales", "2"]
    assert rows["revenue"][3] == "never"
    selected = cli("assets", "list", "-f", defs_file, "--select", "+revenue").stdout
    assert "orders" in selected and "revenue" in selected and "report" not in selected


def test_run_config_json_and_yaml_and_tags(
    cli: Invoke, defs_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fix(defs_file)
    config = {"ops": {"revenue": {"config": {"factor": 2}}}}
    json_file = tmp_path / "run.json"
    json_file.write_text(json.dumps(config))
    result = cli("materialize", "-f", defs_file, "--config", json_file, "--tag", "team=data")
    assert result.exit_code == 0, result.output
    (run_id,) = run_ids(result.stdout)
    assert "factor=2" in cli("runs", "logs", run_id, "--step", "revenue").stdout
    show = cli("runs", "show", run_id).stdout
    assert '"factor": 2' in show and "team=data" in show

    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("ops:\n  revenue:\n    config:\n      factor: 3\n")
    result = cli("materialize", "-f", defs_file, "-s", "revenue", "-c", yaml_file)
    assert result.exit_code == 0, result.output
    (run_id,) = run_ids(result.stdout)
    assert "factor=3" in cli("runs", "logs", run_id).stdout

    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("ops: [unclosed\n")
    not_yaml = cli("materialize", "-f", defs_file, "-c", broken_yaml)
    assert not_yaml.exit_code == 2 and "is not valid YAML" in not_yaml.stderr

    invalid = cli("materialize", "-f", defs_file, "-c", json_file, "--tag", "novalue")
    assert invalid.exit_code == 2 and "key=value" in invalid.stderr
    json_file.write_text(json.dumps({"ops": {"revenue": {"config": {"factor": "many"}}}}))
    wrong_type = cli("materialize", "-f", defs_file, "-c", json_file)
    assert wrong_type.exit_code == 2 and "factor" in wrong_type.stderr
    json_file.write_text("{not json")
    broken = cli("materialize", "-f", defs_file, "-c", json_file)
    assert broken.exit_code == 2 and "not valid JSON" in broken.stderr


def test_job_list_and_run(cli: Invoke, defs_file: Path) -> None:
    listed = cli("job", "list", "-f", defs_file)
    assert listed.exit_code == 0, listed.output
    assert "sum_job" in listed.stdout and "total <- numbers" in listed.stdout
    assert "Adds numbers up." in listed.stdout

    ran = cli("job", "run", "sum_job", "-f", defs_file, "--tag", "kind=test")
    assert ran.exit_code == 0, ran.output
    (run_id,) = run_ids(ran.stdout)
    assert "numbers SUCCESS" in ran.stdout and "total SUCCESS" in ran.stdout
    assert "job sum_job" in cli("runs", "list").stdout
    assert "total is 6" in cli("runs", "logs", run_id).stdout

    unknown = cli("job", "run", "sum_jb", "-f", defs_file)
    assert unknown.exit_code == 2 and "Did you mean 'sum_job'?" in unknown.stderr


def test_failing_job_exits_1(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "jobs.py"
    path.write_text(
        "from raystra import job, op\n\n"
        "@op\ndef explode() -> int:\n    raise RuntimeError('kaboom')\n\n"
        "@job\ndef boom():\n    explode()\n"
    )
    result = cli("job", "run", "boom", "-f", path)
    assert result.exit_code == 1
    assert "Step 'explode' failed: RuntimeError: kaboom" in result.stdout


def test_terminal_progress_bar_stays_out_of_the_steps_captured_stdout(
    cli: Invoke, defs_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100)
    monkeypatch.setattr(_progress, "output_console", lambda: terminal)
    result = cli("materialize", "-f", defs_file)
    assert result.exit_code == 1
    raw = screen.getvalue()
    assert "steps" in raw and "\x1b[" in raw  # a live bar was drawn
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    assert "revenue FAILURE" in drawn  # failures print above the bar
    assert "Step 'revenue' failed" in drawn
    (run_id,) = run_ids(drawn)
    logs = cli("runs", "logs", run_id, "--source", "stdout").stdout.strip().splitlines()
    assert len(logs) == 1 and logs[0].endswith("reading orders from the source")


def test_plain_progress_prints_one_line_per_step() -> None:
    from raystra.events import ErrorInfo, RunStarted, StepFailed, StepSkipped, StepSucceeded

    screen = StringIO()
    progress = _progress.RunProgress(Console(file=screen, width=120), live=False)
    with progress:
        progress.on_event(RunStarted(run_id="r-1", step_keys=("a", "b", "c")))
        progress.on_event(StepSucceeded(run_id="r-1", step_key="a", duration_s=1.23))
        error = ErrorInfo("KeyError", "'col'\nmore detail", "Traceback ...")
        progress.on_event(StepFailed(run_id="r-1", step_key="b", attempt=2, error=error))
        progress.on_event(StepSkipped(run_id="r-1", step_key="c", reason="upstream failed"))
    assert screen.getvalue().splitlines() == [
        "Run r-1 started: 3 step(s), executor in_process",
        "[1/3] a SUCCESS  1.2s",
        "[2/3] b FAILURE  KeyError: 'col'",
        "[3/3] c SKIPPED  upstream failed",
    ]


def test_interrupted_run_is_recorded_canceled_and_exits_130(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "interrupt.py"
    path.write_text(
        "from raystra import asset\n\n@asset\ndef slow() -> int:\n    raise KeyboardInterrupt\n"
    )
    result = cli("materialize", "-f", path)
    assert result.exit_code == 130
    assert "was recorded as CANCELED" in result.stdout
    assert "CANCELED" in cli("runs", "list").stdout


def test_unexpected_errors_are_one_line_without_traceback(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raystra import api

    def broken(**_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(api, "list_runs", broken)
    result = cli("runs", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Unexpected OSError: disk full.")
    assert "Traceback" not in result.output
    debug = cli("--debug", "runs", "list")
    assert "Traceback (most recent call last)" in debug.stderr
