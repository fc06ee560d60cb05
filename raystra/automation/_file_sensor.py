"""`new_files_sensor`: one run per new file under any fsspec path (local folder, S3 prefix).

The cursor keeps the newest modification time seen and the files that had it, so a file is
picked up once even when several land within the store's timestamp resolution (S3 keeps
whole seconds); the file's path is also the run key, so a file is never launched twice even
if the cursor were lost. Write files atomically (write elsewhere and rename, or one S3 PUT):
a file is picked up as soon as it is listed. `EnvVar` values in ``storage_options`` are read
on every tick in the daemon's process, so credentials never sit in the definitions.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from raystra.automation._requests import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    SensorResult,
)
from raystra.automation._sensor import SensorDefinition, SensorEvaluationContext
from raystra.definitions import DynamicPartitionsDefinition, EnvVar
from raystra.definitions._partitions._base import check_key_chars
from raystra.errors import InvalidDefinitionError

__all__ = ["new_files_sensor"]

_MTIME_FIELDS = ("mtime", "LastModified", "last_modified", "updated", "created")


def _stem(path: str) -> str:
    name = posixpath.basename(path)
    return name.split(".", 1)[0] if not name.startswith(".") else name


def _mtime(info: Mapping[str, Any], path: str) -> float:
    for name in _MTIME_FIELDS:
        value = info.get(name)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise InvalidDefinitionError(
        f"new_files_sensor: the file system reports no modification time for {path!r} "
        f"(fields: {', '.join(sorted(info))}); it cannot tell new files from old ones."
    )


def _resolve_env(value: Any, *, sensor: str, where: str) -> Any:
    """``value`` with every `EnvVar` (nested in dicts and lists) replaced by its value."""
    if isinstance(value, EnvVar):
        found = value.get_value()
        if found is None:
            raise InvalidDefinitionError(
                f"new_files_sensor {sensor!r}: storage_options.{where} is "
                f"EnvVar({value.env_var_name!r}), which is not set in the daemon's environment; "
                f"export {value.env_var_name} where `raystra daemon` runs."
            )
        return found
    if isinstance(value, Mapping):
        return {
            k: _resolve_env(v, sensor=sensor, where=f"{where}.{k}" if where else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(
            _resolve_env(v, sensor=sensor, where=f"{where}.{i}") for i, v in enumerate(value)
        )
    return value


def new_files_sensor(
    path: str,
    *,
    target: Any,
    name: str,
    pattern: str = "*",
    partitions_def: DynamicPartitionsDefinition | None = None,
    partition_key_fn: Callable[[str], str] = _stem,
    storage_options: Mapping[str, Any] | None = None,
    minimum_interval_seconds: float = 30,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    max_files_per_tick: int = 100,
) -> SensorDefinition:
    """A sensor that requests one run of ``target`` per new file under ``path``.

    ``path`` is anything fsspec opens (``/data/landing``, ``s3://bucket/landing/``);
    ``pattern`` filters file names (``*.csv``). With ``partitions_def`` (a
    `DynamicPartitionsDefinition`), each file's partition key (``partition_key_fn(path)``,
    default: the file name without extensions) is added to it before the run, and the run
    materializes that partition. Runs are tagged ``raystra/file`` with the file's full path.
    On its first tick the sensor picks up every file already there. ``storage_options`` go to
    fsspec; give secrets as `EnvVar` (read when the sensor runs).

    Example:
        >>> from raystra import DynamicPartitionsDefinition
        >>> files = DynamicPartitionsDefinition(name="landing_files")
        >>> watch = new_files_sensor("/tmp/landing", target="orders", name="landing",
        ...                          pattern="*.csv", partitions_def=files)
        >>> watch.sensor_type
        'files'
    """
    if not isinstance(path, str) or not path:
        raise InvalidDefinitionError(f"new_files_sensor {name!r}: path must be a non-empty string.")
    if partitions_def is not None and not isinstance(partitions_def, DynamicPartitionsDefinition):
        raise InvalidDefinitionError(
            f"new_files_sensor {name!r}: partitions_def must be a DynamicPartitionsDefinition "
            f"(files add partitions as they land), got {partitions_def!r}."
        )
    limit = max_files_per_tick
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidDefinitionError(
            f"new_files_sensor {name!r}: max_files_per_tick={limit!r}; give a whole number "
            "of files >= 1."
        )
    options = dict(storage_options or {})

    def evaluate(context: SensorEvaluationContext) -> SensorResult:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(path, **_resolve_env(options, sensor=name, where=""))
        fs.invalidate_cache()  # object stores cache listings; a stale one would miss files
        if not fs.exists(root):
            return SensorResult(skip_reason=f"{path} does not exist yet")
        state = json.loads(context.cursor) if context.cursor else {"mtime": None, "names": []}
        after, seen = state["mtime"], set(state["names"])
        found: list[tuple[float, str]] = []
        for file_path, info in fs.find(root, detail=True).items():
            if info.get("type") == "directory":
                continue
            if not fnmatch.fnmatch(posixpath.basename(file_path), pattern):
                continue
            mtime = _mtime(info, file_path)
            if after is None or mtime > after or (mtime == after and file_path not in seen):
                found.append((mtime, file_path))
        found.sort()
        found = found[:max_files_per_tick]
        if not found:
            return SensorResult(skip_reason=f"no new files matching {pattern!r} under {path}")
        requests, keys = [], []
        for _, file_path in found:
            url = fs.unstrip_protocol(file_path)
            key = partition_key_fn(url) if partitions_def is not None else None
            if key is not None:
                check_key_chars(
                    key,
                    where=f"new_files_sensor {name!r}, file {url!r}",
                    error=InvalidDefinitionError,
                )
                keys.append(key)
            requests.append(RunRequest(run_key=url, partition_key=key, tags={"raystra/file": url}))
        newest = found[-1][0]
        names = [p for m, p in found if m == newest]
        if after is not None and newest == after:
            names += sorted(seen)
        adds = (
            [
                AddDynamicPartitionsRequest(
                    partitions_def_name=partitions_def.name, partition_keys=keys
                )
            ]
            if partitions_def is not None
            else []
        )
        return SensorResult(
            run_requests=requests,
            cursor=json.dumps({"mtime": newest, "names": sorted(set(names))}),
            dynamic_partitions_requests=adds,
        )

    return SensorDefinition(
        name=name,
        evaluation_fn=evaluate,
        target=target,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=f"One run per new file matching {pattern!r} under {path}.",
        sensor_type="files",
    )
