"""OpenTelemetry metrics of runs, built in the driver from the run's events.

Instruments (docs/observability.md, "Metrics", documents each with its attributes):

- ``raystra.step.duration`` (histogram, s): one record per finished step attempt;
- ``raystra.asset.rows_written`` / ``raystra.asset.bytes_written`` (counters): what the IO
  manager measured for each committed materialization;
- ``raystra.run.count`` (counter): finished runs, by status;
- ``raystra.backfill.target.count`` / ``raystra.backfill.target.requested`` (gauges): each
  backfill's progress.

Metric attributes are low-cardinality on purpose: asset key, step status, executor, job name.
Run ids and partition keys never go on metrics (one time series per partition would swamp any
backend); spans and `raystra runs show` carry those.

Export follows OpenTelemetry's standard variables: ``OTEL_METRICS_EXPORTER`` (``otlp``,
``console``, ``none``) or an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``) turns metrics on; with neither, or with
``OTEL_SDK_DISABLED=true``, they are off and the SDK is never imported.

Example:
    >>> metrics_enabled({"OTEL_METRICS_EXPORTER": "console"})
    True
    >>> metrics_enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318"})
    False
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from raystra.errors import RaystraError
from raystra.events import (
    AssetMaterialized,
    Event,
    PartitionFailed,
    RunCanceled,
    RunFailed,
    RunStatus,
    RunSucceeded,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    now,
)
from raystra.observability import _attributes as attrs
from raystra.observability._config import (
    GRPC_MISSING,
    exporter_names,
    otlp_protocol,
    signal_enabled,
)
from raystra.observability._observers import ObservedRun, RunObserver
from raystra.planning import Step

__all__ = [
    "BACKFILL_TARGETS",
    "BACKFILL_TARGETS_REQUESTED",
    "BYTES_WRITTEN",
    "ROWS_WRITTEN",
    "RUNS",
    "STEP_DURATION",
    "MetricsObserver",
    "meter_provider_for",
    "metrics_enabled",
    "metrics_observer",
    "record_backfill_progress",
    "shutdown_meter_providers",
]

STEP_DURATION = "raystra.step.duration"
ROWS_WRITTEN = "raystra.asset.rows_written"
BYTES_WRITTEN = "raystra.asset.bytes_written"
RUNS = "raystra.run.count"
BACKFILL_TARGETS = "raystra.backfill.target.count"
BACKFILL_TARGETS_REQUESTED = "raystra.backfill.target.requested"

# Seconds: steps range from milliseconds (small in-memory assets) to hours (big backfills).
DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
)

# Bound on one export after a run ends (on a background thread, so the run never waits).
_FLUSH_TIMEOUT_MS = 5_000
# Must match raystra.api._backfill.BACKFILL_TAG (observability sits below api).
_BACKFILL_TAG = "raystra/backfill"

# Backfill target states on the gauges, from the statuses storage records per target.
_STATE_OF_STATUS = {
    "materialized": "done",
    "failed": "failed",
    "skipped": "failed",
    "requested": "pending",
    "missing": "pending",
    "canceled": "pending",
}
_STATES = ("done", "failed", "pending")


def metrics_enabled(environ: Mapping[str, str]) -> bool:
    """True when the standard ``OTEL_*`` variables ask for metrics.

    ``OTEL_METRICS_EXPORTER`` naming an exporter other than ``none``, or an OTLP endpoint
    (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``) being set, turns
    metrics on; ``OTEL_SDK_DISABLED=true`` turns everything off.

    Example:
        >>> metrics_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
        True
        >>> metrics_enabled({"OTEL_METRICS_EXPORTER": "none"})
        False
    """
    return signal_enabled(environ, "METRICS")


def metrics_observer(environ: Mapping[str, str]) -> MetricsObserver | None:
    """A `MetricsObserver` when `metrics_enabled`, else None (the `configured_observers` hook).

    Example:
        >>> metrics_observer({}) is None
        True
    """
    if not metrics_enabled(environ):
        return None
    return MetricsObserver(meter_provider_for(environ))


# -- the process's MeterProvider -------------------------------------------------------------

_PROVIDERS: dict[tuple[tuple[str, str], ...], Any] = {}
_PROVIDERS_LOCK = threading.Lock()
# At exit: one last export, bounded. Runs ask for an export when they end, so little is
# pending by then, and a collector that is down must not hold the process (the SDK's own
# hook waits 30 s).
_EXIT_TIMEOUT_MS = 3_000
_EXIT_HOOKED = False


def meter_provider_for(environ: Mapping[str, str]) -> Any:
    """The process's SDK ``MeterProvider`` for this configuration, created on first use.

    One per process (per ``OTEL_*`` configuration), reused by every run so counters keep
    accumulating and exporters keep their connections; `shutdown_meter_providers` stops it
    (with a last, bounded export) when the process exits. It is not installed as
    OpenTelemetry's global provider, so an application's own metrics setup is left alone.

    Example:
        >>> provider = meter_provider_for({"OTEL_METRICS_EXPORTER": "none"})  # doctest: +SKIP
    """
    key = tuple(sorted((k, v) for k, v in environ.items() if k.startswith("OTEL_")))
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(key)
        if provider is None:
            global _EXIT_HOOKED
            if not _EXIT_HOOKED:
                atexit.register(shutdown_meter_providers, timeout_millis=_EXIT_TIMEOUT_MS)
                _EXIT_HOOKED = True
            provider = _PROVIDERS[key] = _build_provider(environ)
        return provider


class _BackgroundFlush:
    """Exports a provider's metrics on a thread of its own, as soon as asked.

    A run asks when it ends: its figures leave within moments, and the run does not wait for
    the export (encoding every series and posting it cost ~23 ms per 1,000-asset run, a
    quarter of tracing's overhead). Requests while an export runs coalesce into one more.
    At exit, `shutdown_meter_providers` exports whatever is still pending.
    """

    def __init__(self, provider: Any) -> None:
        self._provider = weakref.ref(provider)  # a provider dropped by its owner goes away
        self._lock = threading.Lock()
        self._wanted = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        with self._lock:
            self._wanted = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="raystra-metrics-flush", daemon=True
                )
                self._thread.start()

    def wait(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) for the export in progress, if any."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._wanted:
                    self._thread = None
                    return
                self._wanted = False
            provider = self._provider()
            if provider is None:
                continue
            try:
                provider.force_flush(timeout_millis=_FLUSH_TIMEOUT_MS)
            except Exception as exc:  # a collector that is down must not kill the thread
                _log.warning("exporting metrics failed: %s", exc)


_log = logging.getLogger(__name__)
_FLUSHERS: weakref.WeakKeyDictionary[Any, _BackgroundFlush] = weakref.WeakKeyDictionary()


def _flush_soon(provider: Any) -> None:
    """Export ``provider``'s metrics now, on a background thread (see `_BackgroundFlush`)."""
    with _PROVIDERS_LOCK:
        flusher = _FLUSHERS.get(provider)
        if flusher is None:
            flusher = _FLUSHERS[provider] = _BackgroundFlush(provider)
    flusher.request()


def shutdown_meter_providers(timeout_millis: float = _EXIT_TIMEOUT_MS) -> None:
    """Export what is pending and stop the process's MeterProviders, within ``timeout_millis``.

    Runs at exit by itself; call it to stop exporting earlier (a test that pointed metrics at
    a receiver it is about to close). The next run creates a provider again.

    Example:
        >>> shutdown_meter_providers(timeout_millis=100)
    """
    with _PROVIDERS_LOCK:
        providers = list(_PROVIDERS.values())
        _PROVIDERS.clear()
        flushers = list(_FLUSHERS.values())
        _FLUSHERS.clear()
    deadline = time.monotonic() + timeout_millis / 1000
    for flusher in flushers:  # an export in flight finishes first; shutdown exports the rest
        flusher.wait(max(deadline - time.monotonic(), 0.0))
    for provider in providers:
        remaining_ms = max((deadline - time.monotonic()) * 1000, 1.0)
        provider.shutdown(timeout_millis=remaining_ms)


def _build_provider(environ: Mapping[str, str]) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    names = exporter_names(environ, "METRICS") or ["otlp"]
    # Each reader exports every OTEL_METRIC_EXPORT_INTERVAL ms (60 s by default) and at flush.
    readers = [
        PeriodicExportingMetricReader(_exporter(name, environ)) for name in names if name != "none"
    ]
    service = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": "raystra"}
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME.
    return MeterProvider(
        metric_readers=readers,
        resource=Resource.create(service),
        shutdown_on_exit=False,  # shutdown_meter_providers does it, bounded
    )


def _exporter(name: str, environ: Mapping[str, str]) -> Any:
    if name == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        # stderr: the CLI's own output (tables, --json) stays clean on stdout.
        return ConsoleMetricExporter(out=sys.stderr)
    protocol = otlp_protocol(environ, "METRICS")
    # The exporters read their endpoint, headers, timeout and temporality from OTEL_*.
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcExporter,
            )
        except ImportError as err:
            raise RaystraError(GRPC_MISSING) from err
        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter()
    raise RaystraError(
        f"OTLP protocol {protocol!r} is not supported for metrics: set "
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL (or OTEL_EXPORTER_OTLP_PROTOCOL) to "
        "http/protobuf (the default) or grpc."
    )


@functools.cache  # asked by every run's observer; the installed version does not change
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("raystra")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "0"


class _Instruments:
    """The instruments of one provider (the SDK returns the same ones for the same names)."""

    def __init__(self, meter_provider: Any) -> None:
        meter = meter_provider.get_meter("raystra", _version())
        self.duration = meter.create_histogram(
            STEP_DURATION,
            unit="s",
            description="Duration of step attempts, by asset, status and executor.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.rows = meter.create_counter(
            ROWS_WRITTEN, unit="{row}", description="Rows committed to storage, by asset."
        )
        self.bytes = meter.create_counter(
            BYTES_WRITTEN, unit="By", description="Bytes committed to storage, by asset."
        )
        self.runs = meter.create_counter(
            RUNS, unit="{run}", description="Finished runs, by status and executor."
        )
        self.backfill_targets = meter.create_gauge(
            BACKFILL_TARGETS,
            unit="{target}",
            description="Targets (asset partitions) of a backfill, by state: done, failed, "
            "pending.",
        )
        self.backfill_requested = meter.create_gauge(
            BACKFILL_TARGETS_REQUESTED,
            unit="{target}",
            description="Targets (asset partitions) a backfill asked for.",
        )


# -- backfill progress -----------------------------------------------------------------------

# The last counts `record_backfill_progress` was given, per backfill: the baseline a run of the
# backfill counts from (a resumed backfill starts with targets done by earlier runs).
_BACKFILL_BASELINES: OrderedDict[str, dict[str, int]] = OrderedDict()
_BASELINES_KEPT = 64
_BASELINES_LOCK = threading.Lock()


def record_backfill_progress(
    backfill_id: str,
    counts: Mapping[str, int] | Callable[[], Mapping[str, int]],
    *,
    meter_provider: Any = None,
) -> None:
    """Publish a backfill's target counts (storage statuses -> count) as gauges.

    ``counts`` maps the statuses storage records per target (``materialized``, ``failed``,
    ``skipped``, ``requested``, ``missing``, ``canceled``) to how many targets have each, as
    ``BackfillRecord.counts`` holds them; pass a function to load them only when metrics are
    on. Call it when a backfill's run starts and after its final target statuses are
    recorded: while the run goes on, its `MetricsObserver` moves targets from pending to done
    or failed from that baseline as their events arrive. Does nothing when metrics are off.

    Example:
        >>> record_backfill_progress("b1", {"materialized": 3, "requested": 7})  # doctest: +SKIP
    """
    if meter_provider is None:
        if not metrics_enabled(os.environ):
            return
        meter_provider = meter_provider_for(os.environ)
    loaded = dict(counts() if callable(counts) else counts)
    with _BASELINES_LOCK:
        _BACKFILL_BASELINES[backfill_id] = loaded
        _BACKFILL_BASELINES.move_to_end(backfill_id)
        while len(_BACKFILL_BASELINES) > _BASELINES_KEPT:
            _BACKFILL_BASELINES.popitem(last=False)
    states = dict.fromkeys(_STATES, 0)
    for status, count in loaded.items():
        states[_STATE_OF_STATUS.get(status, "pending")] += count
    _set_backfill_gauges(_Instruments(meter_provider), backfill_id, states)


def _set_backfill_gauges(
    instruments: _Instruments, backfill_id: str, states: Mapping[str, int]
) -> None:
    for state in _STATES:
        instruments.backfill_targets.set(
            states[state], {attrs.BACKFILL_ID: backfill_id, attrs.BACKFILL_TARGET_STATE: state}
        )
    instruments.backfill_requested.set(sum(states.values()), {attrs.BACKFILL_ID: backfill_id})


class _BackfillProgress:
    """Live target states of the backfill a run belongs to.

    Every run of a backfill plans all of its targets not yet materialized (the first run plans
    them all, a resume the rest), so the run starts from: done = materialized so far, the rest
    pending; each target then moves once, to done or failed, as its events arrive.
    """

    def __init__(self, backfill_id: str, run: ObservedRun, instruments: _Instruments) -> None:
        self.backfill_id = backfill_id
        self.instruments = instruments
        targets = sum(
            len(step.asset_keys) * max(len(step.partition_keys), 1) for step in run.plan.steps
        )
        with _BASELINES_LOCK:
            baseline = _BACKFILL_BASELINES.get(backfill_id)
        done = baseline.get("materialized", 0) if baseline else 0
        total = sum(baseline.values()) if baseline else targets
        self.states = {"done": done, "failed": 0, "pending": max(total - done, 0)}
        self._settled: set[tuple[str, str | None]] = set()
        self.publish()

    def settle(self, asset_key: str, partition: str | None, state: str) -> None:
        target = (asset_key, partition)
        if target in self._settled:
            return
        self._settled.add(target)
        self.states[state] += 1
        self.states["pending"] = max(self.states["pending"] - 1, 0)
        self.publish()

    def publish(self) -> None:
        _set_backfill_gauges(self.instruments, self.backfill_id, self.states)


# -- the observer ----------------------------------------------------------------------------


class MetricsObserver(RunObserver):
    """Records one run's metrics on a ``MeterProvider`` (see the module doc for instruments).

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        >>> reader = InMemoryMetricReader()
        >>> observer = MetricsObserver(MeterProvider(metric_readers=[reader]))
        >>> observer.run_finished(RunStatus.SUCCESS)
        >>> [m.name for rm in reader.get_metrics_data().resource_metrics
        ...  for sm in rm.scope_metrics for m in sm.metrics]
        ['raystra.run.count']
    """

    def __init__(self, meter_provider: Any) -> None:
        self.meter_provider = meter_provider
        self._instruments = _Instruments(meter_provider)
        self._run: ObservedRun | None = None
        self._steps: dict[str, Step] = {}
        self._started: dict[tuple[str, int], float] = {}
        self._ended_at: float | None = None
        self._backfill: _BackfillProgress | None = None
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            StepStarted: self._step_started,
            StepSucceeded: self._step_succeeded,
            StepFailed: self._step_failed,
            StepRetrying: self._step_retrying,
            StepSkipped: self._step_skipped,
            AssetMaterialized: self._materialized,
            PartitionFailed: self._partition_failed,
            RunSucceeded: self._run_ended,
            RunFailed: self._run_ended,
            RunCanceled: self._run_ended,
        }

    @property
    def _executor(self) -> str:
        return self._run.executor if self._run is not None else "unknown"

    def run_started(self, run: ObservedRun) -> None:
        """Remember the run's plan; start counting its backfill's progress, if it has one."""
        self._run = run
        self._steps = {step.key: step for step in run.plan.steps}
        backfill_id = run.tags.get(_BACKFILL_TAG)
        if backfill_id:
            self._backfill = _BackfillProgress(backfill_id, run, self._instruments)

    def observe(self, event: Event) -> None:
        """Record what ``event`` measures."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def run_finished(self, status: RunStatus) -> None:
        """Record attempts left open and the run itself, then flush the exporters."""
        end = self._ended_at if self._ended_at is not None else now()
        attempt_status = "canceled" if status is RunStatus.CANCELED else "failed"
        for (step_key, _), started in list(self._started.items()):
            self._record_duration(step_key, max(end - started, 0.0), attempt_status)
        self._started.clear()
        attributes = {attrs.RUN_STATUS: status.value, attrs.EXECUTOR: self._executor}
        if self._run is not None and self._run.job_name:
            attributes[attrs.JOB_NAME] = self._run.job_name
        self._instruments.runs.add(1, attributes)
        _flush_soon(self.meter_provider)

    # -- events ------------------------------------------------------------------------------

    def _step_started(self, event: StepStarted) -> None:
        self._started[(event.step_key, event.attempt)] = event.timestamp

    def _step_succeeded(self, event: StepSucceeded) -> None:
        self._finish_attempt(event.step_key, event.attempt, event.timestamp, "success", event)

    def _step_failed(self, event: StepFailed) -> None:
        self._finish_attempt(event.step_key, event.attempt, event.timestamp, "failed", event)

    def _step_retrying(self, event: StepRetrying) -> None:
        # The same statuses as the attempt's span: a worker that died is "killed".
        status = "killed" if event.error.type_name == "WorkerDied" else "retrying"
        self._finish_attempt(event.step_key, event.attempt, event.timestamp, status, None)

    def _finish_attempt(
        self,
        step_key: str,
        attempt: int,
        timestamp: float,
        status: str,
        measured: StepSucceeded | StepFailed | None,
    ) -> None:
        started = self._started.pop((step_key, attempt), None)
        if measured is not None and measured.duration_s > 0:
            duration = measured.duration_s
        elif started is not None:
            duration = max(timestamp - started, 0.0)
        else:
            return  # neither measured nor seen starting: nothing honest to record
        self._record_duration(step_key, duration, status)

    def _record_duration(self, step_key: str, duration: float, status: str) -> None:
        attributes = self._step_attributes(step_key)
        attributes[attrs.STEP_STATUS] = status
        self._instruments.duration.record(duration, attributes)

    def _step_attributes(self, step_key: str) -> dict[str, str]:
        """A new dict of the step's attributes (the caller may add to it)."""
        attributes = {attrs.EXECUTOR: self._executor}
        step = self._steps.get(step_key)
        if step is not None and step.asset_keys:
            attributes[attrs.ASSET_KEY] = step.asset_keys[0].to_user_string()
        elif step is not None:  # an op of a job: its node name is as low-cardinality as a key
            attributes[attrs.STEP_KEY] = step.node_step_key
            if step.job_name:
                attributes[attrs.JOB_NAME] = step.job_name
        return attributes

    def _materialized(self, event: AssetMaterialized) -> None:
        rows = _count(event.metadata.get("row_count"))
        size = _count(event.metadata.get("byte_size"))
        if rows is not None or size is not None:
            attributes = {
                attrs.ASSET_KEY: event.asset_key.to_user_string(),
                attrs.EXECUTOR: self._executor,
            }
            if rows is not None:
                self._instruments.rows.add(rows, attributes)
            if size is not None:
                self._instruments.bytes.add(size, attributes)
        if self._backfill is not None:
            self._backfill.settle(event.asset_key.to_user_string(), event.partition, "done")

    def _partition_failed(self, event: PartitionFailed) -> None:
        if self._backfill is not None:
            self._backfill.settle(event.asset_key.to_user_string(), event.partition, "failed")

    def _step_skipped(self, event: StepSkipped) -> None:
        step = self._steps.get(event.step_key)
        if self._backfill is None or step is None:
            return
        for key in step.asset_keys:
            for partition in step.partition_keys or (None,):
                self._backfill.settle(key.to_user_string(), partition, "failed")

    def _run_ended(self, event: Event) -> None:
        self._ended_at = event.timestamp


def _count(value: Any) -> int | None:
    """A non-negative integer measurement from materialization metadata, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)
