"""Frozen event records: the single source of truth about a run.

Executors yield these; storage, the CLI, traces and the web UI only consume them. Run and step
status is derived from them (see `raystra.storage` for the derived views).

Every event carries ``run_id`` and ``timestamp`` (seconds since the epoch). Events serialise to
plain JSON-able dicts with `event_to_dict` / `event_from_dict`, which is how storage keeps them.

Example:
    >>> event = StepStarted(run_id="r1", timestamp=0.0, step_key="orders", attempt=1)
    >>> event_from_dict(event_to_dict(event)) == event
    True
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import time
import traceback as traceback_module
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from raystra.definitions._keys import AssetKey

__all__ = [
    "AssetCheckEvaluated",
    "AssetMaterialized",
    "ErrorInfo",
    "Event",
    "LogMessage",
    "OpOutputStored",
    "OutputSchemaChecked",
    "PartitionFailed",
    "RunCanceled",
    "RunFailed",
    "RunStarted",
    "RunStatus",
    "RunSucceeded",
    "StepFailed",
    "StepRetrying",
    "StepSkipped",
    "StepSpans",
    "StepStarted",
    "StepSucceeded",
    "data_version",
    "event_from_dict",
    "event_to_dict",
    "now",
]


@functools.lru_cache(maxsize=4096)  # each in-run version is asked by producer and readers
def data_version(
    asset_key: str, partition: str | None, run_id: str, code_version: str | None
) -> str:
    """The data version of one materialization: which run built it, from which code.

    Deterministic, so a downstream step can record what it consumed from a step of the same
    run before that step's event reached storage.

    Example:
        >>> data_version("orders", "2024-01-01", "run-1", "v1") == data_version(
        ...     "orders", "2024-01-01", "run-1", "v1")
        True
    """
    text = "\0".join((asset_key, partition or "", run_id, code_version or ""))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def now() -> float:
    """The timestamp events use: seconds since the epoch."""
    return time.time()


class RunStatus(enum.StrEnum):
    """Lifecycle of a run, derived from its events."""

    QUEUED = "QUEUED"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELED = "CANCELED"

    @property
    def is_finished(self) -> bool:
        """True once the run can no longer change."""
        return self in (RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED)


@dataclass(frozen=True)
class ErrorInfo:
    """A captured exception: its type, message and full formatted traceback."""

    type_name: str
    message: str
    traceback: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """Capture ``exc`` with its chained causes, as Python would print it."""
        return cls(
            type_name=type(exc).__qualname__,
            message=str(exc),
            traceback="".join(traceback_module.format_exception(exc)),
        )

    def redacted(self, secrets: tuple[str, ...]) -> ErrorInfo:
        """Return a copy with every secret value replaced by ``***``."""
        return ErrorInfo(
            type_name=self.type_name,
            message=redact(self.message, secrets),
            traceback=redact(self.traceback, secrets),
        )


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace each non-empty secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event: which run, and when."""

    kind: ClassVar[str] = "Event"
    # False for telemetry that observers consume but run storage does not keep (`StepSpans`).
    stored: ClassVar[bool] = True
    run_id: str
    timestamp: float = field(default_factory=now)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """The run began executing ``step_keys`` (in topological order)."""

    kind: ClassVar[str] = "RunStarted"
    step_keys: tuple[str, ...] = ()
    executor: str = "in_process"


@dataclass(frozen=True, kw_only=True)
class RunSucceeded(Event):
    """Every step succeeded and every output committed."""

    kind: ClassVar[str] = "RunSucceeded"


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    """The run ended with failed steps (listed) or an engine error (``error``)."""

    kind: ClassVar[str] = "RunFailed"
    failed_step_keys: tuple[str, ...] = ()
    error: ErrorInfo | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RunCanceled(Event):
    """The run was stopped before it finished (Ctrl-C, cancel request)."""

    kind: ClassVar[str] = "RunCanceled"
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    """An attempt of a step began (attempt numbers start at 1)."""

    kind: ClassVar[str] = "StepStarted"
    step_key: str
    attempt: int = 1
    host: str = ""
    pid: int = 0
    # Where on Ray the attempt ran; recorded when the run is traced.
    ray_task_id: str = ""
    ray_node_id: str = ""


@dataclass(frozen=True, kw_only=True)
class StepSucceeded(Event):
    """A step's attempt finished and all its outputs committed."""

    kind: ClassVar[str] = "StepSucceeded"
    step_key: str
    attempt: int = 1
    duration_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class StepRetrying(Event):
    """An attempt failed and the step will run again after ``delay_s`` seconds."""

    kind: ClassVar[str] = "StepRetrying"
    step_key: str
    attempt: int
    error: ErrorInfo
    delay_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class StepFailed(Event):
    """A step failed for good (retries exhausted or not retryable)."""

    kind: ClassVar[str] = "StepFailed"
    step_key: str
    attempt: int
    error: ErrorInfo
    duration_s: float = 0.0
    host: str = ""
    pid: int = 0


@dataclass(frozen=True, kw_only=True)
class StepSkipped(Event):
    """A step did not run because an upstream step failed or was skipped."""

    kind: ClassVar[str] = "StepSkipped"
    step_key: str
    reason: str
    upstream_step_keys: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AssetMaterialized(Event):
    """An asset's output committed to storage (recorded only after the write committed)."""

    kind: ClassVar[str] = "AssetMaterialized"
    step_key: str
    asset_key: AssetKey
    partition: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    code_version: str | None = None
    # Identifies this materialization's data (see `data_version`), and what it was built from:
    # one entry per upstream (asset, partition) read, as
    # ``{"asset_key", "partition", "run_id", "data_version"}``; run_id/data_version are None
    # for inputs loaded from storage (storage fills them in from its index).
    data_version: str | None = None
    consumed: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class PartitionFailed(Event):
    """An asset partition was not materialized because its step failed, or marked it failed.

    A range step's other partitions may still have committed. ``partition`` is None for an
    unpartitioned asset whose step failed (so its status shows failed, not missing).
    """

    kind: ClassVar[str] = "PartitionFailed"
    step_key: str
    asset_key: AssetKey
    partition: str | None
    reason: str


@dataclass(frozen=True, kw_only=True)
class OpOutputStored(Event):
    """An op's output committed through its IO manager (so re-execution can load it)."""

    kind: ClassVar[str] = "OpOutputStored"
    step_key: str
    output_name: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class OutputSchemaChecked(Event):
    """An output (one partition of it) was checked against its declared ``output_schema``.

    Recorded before anything is stored, whether it passed or not. ``mismatches`` holds one
    ``{"column", "expected", "found"}`` dict per differing column (empty when it passed);
    ``note`` says what was not checked (e.g. nulls in a lazy Spark frame).

    Example:
        >>> missing = {"column": "id", "expected": "int64", "found": "missing"}
        >>> event = OutputSchemaChecked(
        ...     run_id="r1", step_key="orders", output_name="result", passed=False,
        ...     mismatches=(missing,))
        >>> print(event.diff())
          column  expected  found
          id      int64     missing
    """

    kind: ClassVar[str] = "OutputSchemaChecked"
    step_key: str
    output_name: str
    asset_key: AssetKey | None = None
    partition: str | None = None
    passed: bool = True
    mismatches: tuple[Mapping[str, str], ...] = ()
    note: str = ""

    def diff(self) -> str:
        """The mismatches as an aligned ``column  expected  found`` table (with a header)."""
        rows = [("column", "expected", "found")]
        rows += [(m["column"], m["expected"], m["found"]) for m in self.mismatches]
        width = [max(len(row[i]) for row in rows) for i in range(2)]
        return "\n".join(f"  {c:<{width[0]}}  {e:<{width[1]}}  {f}".rstrip() for c, e, f in rows)


@dataclass(frozen=True, kw_only=True)
class AssetCheckEvaluated(Event):
    """An asset check ran against one partition of its asset (``partition`` None: unpartitioned).

    ``error`` holds the traceback when the check function raised (then ``passed`` is False and
    ``severity`` ERROR). ``target_step_key`` is the step that produced the checked value in
    this run (None when it was loaded from storage).

    Example:
        >>> event = AssetCheckEvaluated(
        ...     run_id="r1", step_key="orders:not_empty", asset_key=AssetKey("orders"),
        ...     check_name="not_empty", passed=False, severity="WARN")
        >>> event.blocks
        False
    """

    kind: ClassVar[str] = "AssetCheckEvaluated"
    step_key: str
    asset_key: AssetKey
    check_name: str
    partition: str | None = None
    passed: bool = True
    severity: str = "ERROR"
    blocking: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    error: ErrorInfo | None = None
    target_step_key: str | None = None

    @property
    def blocks(self) -> bool:
        """True when this result stopped the asset's downstream steps (blocking ERROR failure)."""
        return self.blocking and not self.passed and self.severity == "ERROR"


@dataclass(frozen=True, kw_only=True)
class LogMessage(Event):
    """A line from ``context.log`` (source ``log``) or captured stdout/stderr of a step."""

    kind: ClassVar[str] = "LogMessage"
    step_key: str | None
    message: str
    level: str = "INFO"
    source: str = "log"
    # The trace and the step attempt's span the line was logged under, when the run is traced.
    trace_id: str = ""
    span_id: str = ""


@dataclass(frozen=True, kw_only=True)
class StepSpans(Event):
    """Child spans (input loads, compute, output writes) of a step attempt, for tracing.

    Recorded where the step ran and handed to the run's observers; run storage does not keep
    them. Each span is a plain tuple of ``raystra.observability.RecordedSpan``'s fields.
    """

    kind: ClassVar[str] = "StepSpans"
    stored: ClassVar[bool] = False
    step_key: str
    attempt: int = 1
    spans: tuple[Any, ...] = ()


_EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        RunSucceeded,
        RunFailed,
        RunCanceled,
        StepStarted,
        StepSucceeded,
        StepRetrying,
        StepFailed,
        StepSkipped,
        AssetMaterialized,
        PartitionFailed,
        OpOutputStored,
        OutputSchemaChecked,
        AssetCheckEvaluated,
        LogMessage,
        StepSpans,
    )
}


def event_to_dict(event: Event) -> dict[str, Any]:
    """Serialise an event to a JSON-able dict with a ``kind`` discriminator.

    Example:
        >>> event_to_dict(RunSucceeded(run_id="r1", timestamp=0.0))
        {'kind': 'RunSucceeded', 'run_id': 'r1', 'timestamp': 0.0}
    """
    # An event's __dict__ holds exactly its fields, in field order (the dataclass __init__
    # sets them so): copying it is a third of asking each field by name, several per step.
    payload: dict[str, Any] = {"kind": event.kind, **event.__dict__}
    for name, convert in _converters(type(event)):
        value = payload[name]
        if value is not None:
            payload[name] = convert(value)
    return payload


# Per event class, the fields whose values need making JSON-able, with the function that does
# it. Worked out once per class: the driver serialises several events per step.
_CONVERTERS: dict[type[Event], tuple[tuple[str, Any], ...]] = {}


def _converters(cls: type[Event]) -> tuple[tuple[str, Any], ...]:
    found = _CONVERTERS.get(cls)
    if found is None:
        fields = ((f.name, _converter_for(str(f.type))) for f in dataclasses.fields(cls))
        found = tuple((name, convert) for name, convert in fields if convert is not None)
        _CONVERTERS[cls] = found
    return found


def _converter_for(annotation: str) -> Any:
    if "AssetKey" in annotation:
        return lambda key: key.to_user_string()
    if "ErrorInfo" in annotation:
        return dataclasses.asdict
    if annotation.startswith("tuple"):
        return list
    if annotation.startswith(("Mapping", "dict")):
        return dict
    return None


def event_from_dict(payload: Mapping[str, Any]) -> Event:
    """Rebuild an event serialised by `event_to_dict`."""
    data = dict(payload)
    cls = _EVENT_TYPES[data.pop("kind")]
    if isinstance(data.get("asset_key"), str):
        data["asset_key"] = AssetKey.from_user_string(data["asset_key"])
    if isinstance(data.get("error"), Mapping):
        data["error"] = ErrorInfo(**data["error"])
    for name in ("step_keys", "failed_step_keys", "upstream_step_keys", "consumed", "mismatches"):
        if isinstance(data.get(name), list):
            data[name] = tuple(data[name])
    return cls(**data)
