"""Automation: schedules, sensors, freshness and declarative automation, run by the daemon.

The definitions here (`schedule`, `sensor`, `RunRequest`, ...) are data: they can be built
and unit-tested without storage. `raystra.automation._ticks` evaluates them against run
storage with an explicit ``now`` (tests step a clock; the daemon passes the real time), and
`raystra.automation._daemon` runs that on a loop and launches the runs. See
docs/automation.md.

Example:
    >>> from raystra.automation import RunRequest, schedule
    >>> @schedule(cron_schedule="0 6 * * *", target="*")
    ... def morning(context):
    ...     return RunRequest()
    >>> morning.kind
    'schedule'
"""

from raystra.automation._file_sensor import new_files_sensor
from raystra.automation._freshness import AssetFreshness, asset_freshness
from raystra.automation._requests import (
    AddDynamicPartitionsRequest,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    SensorResult,
    SkipReason,
)
from raystra.automation._schedule import (
    CatchupPolicy,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    build_schedule_from_partitioned_job,
    schedule,
)
from raystra.automation._sensor import SensorDefinition, SensorEvaluationContext, sensor
from raystra.automation._special_sensors import (
    FreshnessPolicySensorContext,
    RunStatusSensorContext,
    asset_sensor,
    freshness_policy_sensor,
    run_failure_sensor,
    run_status_sensor,
)
from raystra.automation._target import AutomationTarget

__all__ = [
    "AddDynamicPartitionsRequest",
    "AssetFreshness",
    "AutomationTarget",
    "CatchupPolicy",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "FreshnessPolicySensorContext",
    "RunRequest",
    "RunStatusSensorContext",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SensorResult",
    "SkipReason",
    "asset_freshness",
    "asset_sensor",
    "build_schedule_from_partitioned_job",
    "freshness_policy_sensor",
    "new_files_sensor",
    "run_failure_sensor",
    "run_status_sensor",
    "schedule",
    "sensor",
]
