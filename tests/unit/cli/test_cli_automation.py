"""``raystra schedule|sensor list|start|stop|preview|ticks`` against a project on disk."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_testing import Invoke, write

from raystra.automation._ticks import evaluate_schedule, evaluate_sensor
from raystra.cli._loading import DefinitionsTarget, load_definitions
from raystra.storage import open_storage

AUTOMATION_PROJECT = """
from raystra import (
    DailyPartitionsDefinition, DefaultSensorStatus, Definitions, RunRequest, SkipReason, asset,
    build_schedule_from_partitioned_job, schedule, sensor,
)

daily = DailyPartitionsDefinition(start_date="2024-01-01")


@asset
def numbers() -> list[int]:
    return [1, 2, 3]


@asset(partitions_def=daily)
def events(context) -> list[str]:
    return [context.partition_key]


@schedule(cron_schedule="0 6 * * *", target="numbers", execution_timezone="Europe/Paris")
def morning(context):
    return RunRequest(tags={"why": "morning"})


@sensor(target="numbers", minimum_interval_seconds=10, default_status=DefaultSensorStatus.RUNNING)
def batches(context):
    done = int(context.cursor or 0)
    if done >= 2:
        return SkipReason("both batches launched")
    context.update_cursor(str(done + 1))
    return RunRequest(run_key=f"batch-{done + 1}")


defs = Definitions(
    assets=[numbers, events],
    schedules=[morning, build_schedule_from_partitioned_job(events, name="events_daily")],
    sensors=[batches],
)
"""


def _project(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "auto_defs.py"
    write(path, AUTOMATION_PROJECT)
    return path


def test_list_start_stop_persist_and_override_the_default(cli: Invoke, tmp_path: Path) -> None:
    defs_file = _project(tmp_path)
    listed = cli("schedule", "list", "-f", defs_file)
    assert listed.exit_code == 0, listed.output
    assert "morning" in listed.stdout and "stopped (default)" in listed.stdout
    assert "0 6 * * * (Europe/Paris)" in listed.stdout

    started = cli("schedule", "start", "morning", "-f", defs_file)
    assert started.exit_code == 0, started.output
    assert "schedule morning: running, next tick" in started.stdout
    as_json = json.loads(cli("schedule", "list", "--json", "-f", defs_file).stdout)
    morning = next(item for item in as_json if item["name"] == "morning")
    assert (morning["status"], morning["status_source"]) == ("running", "set")
    # 06:00 in Paris is 05:00 UTC in winter and 04:00 UTC in summer.
    assert datetime.fromisoformat(morning["next_tick_at"]).astimezone(UTC).hour in (4, 5)

    sensors = json.loads(cli("sensor", "list", "--json", "-f", defs_file).stdout)
    assert [(s["name"], s["status"], s["status_source"]) for s in sensors] == [
        ("batches", "running", "default")
    ]
    stopped = cli("sensor", "stop", "batches", "-f", defs_file)
    assert stopped.exit_code == 0, stopped.output
    sensors = json.loads(cli("sensor", "list", "--json", "-f", defs_file).stdout)
    assert (sensors[0]["status"], sensors[0]["status_source"]) == ("stopped", "set")
    # A stopped sensor is not evaluated by the daemon.
    defs = load_definitions(DefinitionsTarget(file=defs_file))
    with closing(open_storage()) as store:
        sensor = next(s for s in defs.sensors if s.name == "batches")
        assert evaluate_sensor(defs, store, sensor, now=datetime.now(UTC)) is None


def test_starting_a_schedule_does_not_catch_up_ticks_missed_while_stopped(
    cli: Invoke, tmp_path: Path
) -> None:
    defs_file = _project(tmp_path)
    defs = load_definitions(DefinitionsTarget(file=defs_file))
    schedule = next(s for s in defs.schedules if s.name == "morning")
    with closing(open_storage()) as store:
        # It ran once, ten days ago, then someone stopped it.
        store.save_instigator_state(
            "morning",
            kind="schedule",
            status="stopped",
            last_tick_at=(datetime.now(UTC) - timedelta(days=10)).timestamp(),
        )
    assert cli("schedule", "start", "morning", "-f", defs_file).exit_code == 0
    with closing(open_storage()) as store:
        ticks = evaluate_schedule(defs, store, schedule, now=datetime.now(UTC))
        assert ticks == []
        assert store.get_ticks("morning") == []


def test_previews_evaluate_without_recording_anything(cli: Invoke, tmp_path: Path) -> None:
    defs_file = _project(tmp_path)
    preview = cli("schedule", "preview", "events_daily", "-n", "3", "-f", defs_file)
    assert preview.exit_code == 0, preview.output
    out = preview.stdout
    assert out.count("T00:") >= 3  # three upcoming ticks, ISO times
    # The next daily tick materializes the partition that just closed: yesterday.
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    today = datetime.now(UTC).date().isoformat()
    assert f"launch events [{yesterday}]" in out or f"launch events [{today}]" in out
    assert "Nothing was recorded or launched." in out

    sensor = json.loads(cli("sensor", "preview", "batches", "--json", "-f", defs_file).stdout)
    assert [r["run_key"] for r in sensor["runs"]] == ["batch-1"]
    assert sensor["runs"][0]["selection"] == ["numbers"]
    assert sensor["cursor"] == "1"
    assert sensor["already_launched"] == []
    # Previewing again gives the same answer: the cursor was not stored, no tick recorded.
    again = json.loads(cli("sensor", "preview", "batches", "--json", "-f", defs_file).stdout)
    assert again["cursor"] == "1"
    assert "has no ticks yet" in cli("sensor", "ticks", "batches", "-f", defs_file).stdout
    from_cursor = json.loads(
        cli("sensor", "preview", "batches", "--cursor", "2", "--json", "-f", defs_file).stdout
    )
    assert (from_cursor["runs"], from_cursor["skip_reason"]) == ([], "both batches launched")


def test_ticks_show_what_the_daemon_did_and_preview_flags_launched_keys(
    cli: Invoke, tmp_path: Path
) -> None:
    defs_file = _project(tmp_path)
    defs = load_definitions(DefinitionsTarget(file=defs_file))
    sensor = next(s for s in defs.sensors if s.name == "batches")
    now = datetime.now(UTC)
    with closing(open_storage()) as store:
        first = evaluate_sensor(defs, store, sensor, now=now)
        assert first is not None and first.run_keys == ("batch-1",)
    ticks = cli("sensor", "ticks", "batches", "-f", defs_file)
    assert ticks.exit_code == 0, ticks.output
    assert "success" in ticks.stdout and "batch-1" in ticks.stdout
    # Previewing from the old cursor shows batch-1 as launched: the daemon would skip it.
    old = json.loads(
        cli("sensor", "preview", "batches", "--cursor", "0", "--json", "-f", defs_file).stdout
    )
    assert old["already_launched"] == ["batch-1"]
    stored = json.loads(cli("sensor", "preview", "batches", "--json", "-f", defs_file).stdout)
    assert [r["run_key"] for r in stored["runs"]] == ["batch-2"]
    failed_only = cli("sensor", "ticks", "batches", "--status", "failed", "-f", defs_file)
    assert "has no ticks yet" in failed_only.stdout


def test_unknown_names_are_refused_with_a_suggestion(cli: Invoke, tmp_path: Path) -> None:
    defs_file = _project(tmp_path)
    result = cli("schedule", "start", "mornin", "-f", defs_file)
    assert result.exit_code == 2
    assert "No schedule named 'mornin'. Did you mean 'morning'?" in result.output
    # A sensor name is not a schedule.
    wrong_kind = cli("schedule", "stop", "batches", "-f", defs_file)
    assert wrong_kind.exit_code == 2
    assert "Known: events_daily, morning" in wrong_kind.output
