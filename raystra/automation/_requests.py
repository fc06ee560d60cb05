"""What schedules and sensors return: run requests, skip reasons, cursors, partition adds."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions import AssetKey, CoercibleToAssetKey
from raystra.errors import InvalidDefinitionError

__all__ = [
    "AddDynamicPartitionsRequest",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "RunRequest",
    "SensorResult",
    "SkipReason",
]


class DefaultScheduleStatus(enum.Enum):
    """Whether a schedule or sensor runs before anyone starts or stops it (Dagster's names).

    Example:
        >>> DefaultScheduleStatus.RUNNING.value
        'running'
    """

    RUNNING = "running"
    STOPPED = "stopped"


DefaultSensorStatus = DefaultScheduleStatus


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """Ask the daemon for one run of the schedule's or sensor's target.

    ``run_key`` makes the request idempotent: a key already launched by the same schedule or
    sensor is never launched again (the database enforces it, so two daemons cannot both launch
    it). ``asset_selection`` narrows the target; ``partition_key`` picks the partition.

    Example:
        >>> RunRequest(run_key="orders-2024-03-01.csv", partition_key="2024-03-01").partition_key
        '2024-03-01'
    """

    run_key: str | None = None
    partition_key: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    run_config: Mapping[str, Any] = field(default_factory=dict)
    asset_selection: Sequence[CoercibleToAssetKey] | None = None

    def __post_init__(self) -> None:
        if self.run_key is not None and (not isinstance(self.run_key, str) or not self.run_key):
            raise InvalidDefinitionError(
                f"RunRequest(run_key={self.run_key!r}): a run key is a non-empty string that "
                "names what the run is for (a file name, a tick time), or None."
            )
        if self.partition_key is not None and not isinstance(self.partition_key, str):
            raise InvalidDefinitionError(
                f"RunRequest(partition_key={self.partition_key!r}): partition keys are strings."
            )

    @property
    def asset_keys(self) -> tuple[AssetKey, ...] | None:
        """``asset_selection`` as keys (None: the whole target)."""
        if self.asset_selection is None:
            return None
        return tuple(AssetKey.from_coercible(k) for k in self.asset_selection)


@dataclass(frozen=True)
class SkipReason:
    """Why a tick launched nothing; recorded on the tick and shown by ``raystra sensor ticks``.

    Example:
        >>> SkipReason("no new files").message
        'no new files'
    """

    message: str = ""


@dataclass(frozen=True, kw_only=True)
class AddDynamicPartitionsRequest:
    """Add keys to a `DynamicPartitionsDefinition` before the tick's runs launch.

    Example:
        >>> AddDynamicPartitionsRequest(partitions_def_name="files", partition_keys=["a"])
        AddDynamicPartitionsRequest(partitions_def_name='files', partition_keys=['a'])
    """

    partitions_def_name: str
    partition_keys: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class SensorResult:
    """Everything one sensor tick decided: runs, a skip reason, the new cursor, partition adds.

    Example:
        >>> SensorResult(run_requests=[RunRequest(run_key="a")], cursor="a").cursor
        'a'
    """

    run_requests: Sequence[RunRequest] = ()
    skip_reason: SkipReason | str | None = None
    cursor: str | None = None
    dynamic_partitions_requests: Sequence[AddDynamicPartitionsRequest] = ()
