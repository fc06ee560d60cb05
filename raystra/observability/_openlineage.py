"""OpenLineage run events for every step attempt, built in the driver from the run's events.

Each step attempt is an OpenLineage run of the job named after its asset (``raw/orders``) or,
for an op, ``<job>.<op>``: START when the attempt starts, then COMPLETE, FAIL, or ABORT (still
running when the run was canceled or ended). The raystra run itself is the parent run (job
``materialize``, or the job's name), with its own START and terminal event, and every step
event carries a ``parent`` run facet pointing at it.

Datasets are named by storage path (`storage_dataset`): outputs by the path the IO manager
recorded when the output committed, inputs by the path their producer recorded (in this run,
or for inputs loaded from storage the latest materialization's path, through
``ObservedRun.stored_path``); an asset stored without a path is named by asset key, in the job
namespace.

Transport is the official ``openlineage-python`` client's: an HTTP endpoint
(``OPENLINEAGE_URL``, ``OPENLINEAGE_ENDPOINT``, ``OPENLINEAGE_API_KEY``), a JSON-lines file
(``RAYSTRA_OPENLINEAGE_FILE``), or whatever the client's own configuration names
(``OPENLINEAGE_CONFIG``, ``OPENLINEAGE__TRANSPORT__*``). Events are sent from a background
thread, so a slow endpoint never slows the run; a failing one is reported once and never fails
the run. With none of these variables set nothing is imported.

Example:
    >>> openlineage_enabled({"RAYSTRA_OPENLINEAGE_FILE": "/tmp/lineage.jsonl"})
    True
    >>> openlineage_enabled({})
    False
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from raystra.definitions import AssetKey
from raystra.errors import RaystraError
from raystra.events import (
    AssetMaterialized,
    Event,
    OpOutputStored,
    RunCanceled,
    RunFailed,
    RunStarted,
    RunStatus,
    RunSucceeded,
    StepFailed,
    StepRetrying,
    StepStarted,
    StepSucceeded,
    redact,
)
from raystra.observability import _attributes as attrs
from raystra.observability._observers import ObservedRun, RunObserver
from raystra.observability._openlineage_events import (
    ASSET_RUN_JOB,
    EventFactory,
    LineageDataset,
    nominal_window,
    openlineage_run_id,
    schema_of,
    storage_dataset,
)
from raystra.planning import Step

__all__ = [
    "DEFAULT_NAMESPACE",
    "FILE_ENV",
    "OpenLineageObserver",
    "openlineage_enabled",
    "openlineage_observer",
]

FILE_ENV = "RAYSTRA_OPENLINEAGE_FILE"
DEFAULT_NAMESPACE = "raystra"
# How long the end of a run waits for queued events to be sent.
_DRAIN_TIMEOUT_S = 10.0
# How long the sending thread waits for more events before it ends.
_IDLE_EXIT_S = 5.0
# Retries of the HTTP transport: a few for a flaky endpoint, not minutes for a dead one.
_HTTP_RETRY = {"total": 3, "connect": 3, "read": 3, "backoff_factor": 0.3}

_log = logging.getLogger("raystra.observability.openlineage")


def openlineage_enabled(environ: Mapping[str, str]) -> bool:
    """True when a variable names somewhere to send OpenLineage events.

    ``OPENLINEAGE_URL``, ``RAYSTRA_OPENLINEAGE_FILE``, ``OPENLINEAGE_CONFIG`` or any
    ``OPENLINEAGE__TRANSPORT__*`` variable turns emission on; ``OPENLINEAGE_DISABLED=true``
    turns it off.

    Example:
        >>> openlineage_enabled({"OPENLINEAGE_URL": "http://127.0.0.1:5000"})
        True
        >>> openlineage_enabled({"OPENLINEAGE_URL": "http://x", "OPENLINEAGE_DISABLED": "true"})
        False
    """
    if environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        environ.get("OPENLINEAGE_URL")
        or environ.get(FILE_ENV)
        or environ.get("OPENLINEAGE_CONFIG")
        or _client_transport_configured(environ)
    )


def _client_transport_configured(environ: Mapping[str, str]) -> bool:
    return any(name.startswith("OPENLINEAGE__TRANSPORT") for name in environ)


_MISSING_CLIENT_WARNED = False


def openlineage_observer(environ: Mapping[str, str]) -> OpenLineageObserver | None:
    """An `OpenLineageObserver` when `openlineage_enabled`, else None (the observer hook).

    Needs the ``openlineage-python`` package; without it, a warning says so (once) and runs go
    on without lineage.

    Example:
        >>> openlineage_observer({}) is None
        True
    """
    global _MISSING_CLIENT_WARNED
    if not openlineage_enabled(environ):
        return None
    try:
        import openlineage.client  # noqa: F401
    except ImportError:
        if not _MISSING_CLIENT_WARNED:
            _MISSING_CLIENT_WARNED = True
            _log.warning(
                "OpenLineage is configured but the openlineage-python package is not "
                "installed, so no lineage events are sent: pip install openlineage-python"
            )
        return None
    namespace = environ.get("OPENLINEAGE_NAMESPACE", "").strip() or DEFAULT_NAMESPACE
    return OpenLineageObserver(
        _senders_for(environ), namespace=namespace, secrets=_secrets_of(environ)
    )


def _senders_for(environ: Mapping[str, str]) -> list[Callable[[Any], object]]:
    """One send function per configured destination (several may be configured at once)."""
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    senders: list[Callable[[Any], object]] = []
    if environ.get("OPENLINEAGE_CONFIG") or _client_transport_configured(environ):
        from openlineage.client import OpenLineageClient

        # The client resolves its own configuration (openlineage.yml, OPENLINEAGE__*), and
        # applies its filters and extra facets.
        senders.append(OpenLineageClient().emit)
    elif environ.get("OPENLINEAGE_URL"):
        url = environ["OPENLINEAGE_URL"].strip()
        config: dict[str, Any] = {
            "url": url,
            "endpoint": environ.get("OPENLINEAGE_ENDPOINT", "").strip() or "api/v1/lineage",
            "retry": _HTTP_RETRY,
        }
        api_key = environ.get("OPENLINEAGE_API_KEY", "").strip()
        if api_key:
            config["auth"] = {"type": "api_key", "apiKey": api_key}  # sent as a bearer token
        try:
            senders.append(HttpTransport(HttpConfig.from_dict(config)).emit)
        except ValueError as error:
            raise RaystraError(
                f"OPENLINEAGE_URL={_without_credentials(url)!r} is not a usable URL ({error}). "
                "Set it to the lineage server's base URL, e.g. http://marquez:5000."
            ) from None
    path = environ.get(FILE_ENV, "").strip()
    if path:
        if "://" not in path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        senders.append(FileTransport(FileConfig(log_file_path=path, append=True)).emit)
    return senders


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


# -- sending ---------------------------------------------------------------------------------

_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()
_STOP = object()


def _label(send: Callable[[Any], object]) -> str:
    """Where ``send`` delivers, for messages (never with credentials)."""
    target = getattr(send, "__self__", None)
    url = getattr(target, "url", None)
    if isinstance(url, str):
        return _without_credentials(urljoin(url, str(getattr(target, "endpoint", ""))))
    config = getattr(target, "config", None)
    path = getattr(config, "log_file_path", None)
    if isinstance(path, str):
        return path
    transport = getattr(target, "transport", None)
    if transport is not None:
        return f"the OpenLineage client's {getattr(transport, 'kind', 'configured')} transport"
    return repr(send)


class _Sender:
    """Sends events in order on a background thread, so the driver never waits on the network.

    A destination that fails is reported once per process and skipped for the rest of the run:
    one broken lineage server costs a run one failed request, not one per event.
    """

    def __init__(self, sends: Sequence[Callable[[Any], object]], secrets: tuple[str, ...]) -> None:
        self._sends = [(send, _label(send)) for send in sends]
        self._secrets = secrets
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._broken: set[str] = set()

    def submit(self, event: Any) -> None:
        with self._lock:
            self._queue.put(event)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="raystra-openlineage", daemon=True
                )
                self._thread.start()

    def close(self, timeout: float = _DRAIN_TIMEOUT_S) -> None:
        with self._lock:
            thread = self._thread
            if thread is None:
                return  # nothing pending
            self._queue.put(_STOP)
        thread.join(timeout)
        if thread.is_alive():
            _log.warning(
                "OpenLineage events of this run are still being sent after %.0f s; "
                "the run goes on without waiting for them",
                timeout,
            )

    def _work(self) -> None:
        while True:
            try:
                event = self._queue.get(timeout=_IDLE_EXIT_S)
            except queue.Empty:
                # Idle: end the thread (the next event starts another), so a run whose
                # observer was dropped before run_finished leaves no thread behind.
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if event is _STOP:
                with self._lock:
                    self._thread = None
                return
            for send, label in self._sends:
                if label in self._broken:
                    continue
                try:
                    send(event)
                except Exception as error:
                    self._broken.add(label)
                    self._warn(label, error)

    def _warn(self, label: str, error: Exception) -> None:
        with _WARNED_LOCK:
            if label in _WARNED:
                return
            _WARNED.add(label)
        message = redact(f"{type(error).__name__}: {error}", self._secrets)
        _log.warning(
            "OpenLineage events could not be sent to %s (%s); this run's remaining events for "
            "it are dropped, and the run is not affected. Further failures are not reported.",
            label,
            message,
        )


# -- the observer ----------------------------------------------------------------------------


@dataclass
class _Attempt:
    step: Step
    attempt: int
    run_uuid: str
    written: list[tuple[LineageDataset, Mapping[str, Any]]] = field(default_factory=list)


# Asset key -> its dataset, from materializations seen in this process: names the inputs of
# later runs whose producers did not run in them. Bounded: a long-lived daemon stays small.
_KNOWN_ASSETS: OrderedDict[str, LineageDataset] = OrderedDict()
_KNOWN_KEPT = 10_000
_KNOWN_LOCK = threading.Lock()


def _remember(asset_key: str, dataset: LineageDataset) -> None:
    with _KNOWN_LOCK:
        _KNOWN_ASSETS[asset_key] = dataset
        _KNOWN_ASSETS.move_to_end(asset_key)
        while len(_KNOWN_ASSETS) > _KNOWN_KEPT:
            _KNOWN_ASSETS.popitem(last=False)


class OpenLineageObserver(RunObserver):
    """Turns one run's events into OpenLineage run events, handed to ``sends`` in order.

    ``sends`` are functions taking an ``openlineage.client`` event (a transport's ``emit``, or
    ``list.append`` in tests); they are called on a background thread. ``secrets`` are
    redacted from the warning a failing destination gets.

    Example:
        >>> sent = []
        >>> observer = OpenLineageObserver([sent.append])
        >>> observer.run_finished(RunStatus.SUCCESS)
        >>> sent
        []
    """

    def __init__(
        self,
        sends: Sequence[Callable[[Any], object]],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.namespace = namespace
        self._sender = _Sender(sends, secrets)
        self._facets = EventFactory(namespace)
        self._run: ObservedRun | None = None
        self._steps: dict[str, Step] = {}
        self._open: dict[tuple[str, int], _Attempt] = {}
        self._latest: dict[str, int] = {}
        self._assets: dict[str, LineageDataset] = {}
        self._op_outputs: dict[tuple[str, str], LineageDataset] = {}
        self._run_open = False
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            RunStarted: self._run_started_event,
            StepStarted: self._step_started,
            AssetMaterialized: self._materialized,
            OpOutputStored: self._op_output_stored,
            StepSucceeded: self._step_succeeded,
            StepFailed: self._step_failed,
            StepRetrying: self._step_retrying,
            RunSucceeded: self._run_ended,
            RunFailed: self._run_ended,
            RunCanceled: self._run_ended,
        }

    def run_started(self, run: ObservedRun) -> None:
        """Remember the run: its plan names each step's job, inputs and time window."""
        self._run = run
        self._steps = {step.key: step for step in run.plan.steps}
        self._facets.bind_run(
            openlineage_run_id(run.run_id), run.job_name or ASSET_RUN_JOB, run.executor
        )

    def observe(self, event: Event) -> None:
        """Emit the OpenLineage events ``event`` completes."""
        handler = self._handlers.get(type(event))
        if handler is not None and self._run is not None:
            handler(event)

    def run_finished(self, status: RunStatus) -> None:
        """Abort attempts left open, end the parent run, and wait (bounded) for sending."""
        if self._run is not None:
            at = datetime.now(UTC)
            for attempt in list(self._open.values()):
                self._emit_step(attempt, "ABORT", at)
            self._open.clear()
            if self._run_open:
                state = {RunStatus.SUCCESS: "COMPLETE", RunStatus.CANCELED: "ABORT"}
                self._emit_run(state.get(status, "FAIL"), at)
        self._sender.close()

    # -- events ------------------------------------------------------------------------------

    def _run_started_event(self, event: RunStarted) -> None:
        self._run_open = True
        self._emit_run("START", _time(event.timestamp))

    def _run_ended(self, event: RunSucceeded | RunFailed | RunCanceled) -> None:
        at = _time(event.timestamp)
        for attempt in list(self._open.values()):
            self._emit_step(attempt, "ABORT", at)
        self._open.clear()
        if not self._run_open:
            return
        self._run_open = False
        if isinstance(event, RunSucceeded):
            self._emit_run("COMPLETE", at)
        elif isinstance(event, RunCanceled):
            self._emit_run("ABORT", at)
        else:
            error = event.error
            message = error.message if error else (event.reason or "run failed")
            self._emit_run("FAIL", at, error=(message, error.traceback if error else None))

    def _step_started(self, event: StepStarted) -> None:
        step = self._steps.get(event.step_key)
        if step is None:
            return
        attempt = _Attempt(
            step=step,
            attempt=event.attempt,
            run_uuid=openlineage_run_id(event.run_id, event.step_key, event.attempt),
        )
        self._open[(event.step_key, event.attempt)] = attempt
        self._latest[event.step_key] = event.attempt
        self._emit_step(attempt, "START", _time(event.timestamp))

    def _materialized(self, event: AssetMaterialized) -> None:
        asset_key = event.asset_key.to_user_string()
        path = event.metadata.get("path")
        schema = schema_of(event.metadata.get("schema"))
        if isinstance(path, str) and path:
            namespace, name = storage_dataset(path, partitioned=event.partition is not None)
            dataset = LineageDataset(namespace, name, schema)
        else:  # stored without a path (in memory, a custom IO manager): named by asset key
            dataset = LineageDataset(self.namespace, asset_key, schema)
        self._assets[asset_key] = dataset
        _remember(asset_key, dataset)
        attempt = self._current(event.step_key)
        if attempt is not None:
            attempt.written.append((dataset, event.metadata))

    def _op_output_stored(self, event: OpOutputStored) -> None:
        path = event.metadata.get("path")
        if not isinstance(path, str) or not path:
            return
        namespace, name = storage_dataset(path)
        dataset = LineageDataset(namespace, name, schema_of(event.metadata.get("schema")))
        self._op_outputs[(event.step_key, event.output_name)] = dataset
        attempt = self._current(event.step_key)
        if attempt is not None:
            attempt.written.append((dataset, event.metadata))

    def _step_succeeded(self, event: StepSucceeded) -> None:
        self._end_attempt(event.step_key, event.attempt, "COMPLETE", event.timestamp, None)

    def _step_failed(self, event: StepFailed) -> None:
        error = (f"{event.error.type_name}: {event.error.message}", event.error.traceback)
        self._end_attempt(event.step_key, event.attempt, "FAIL", event.timestamp, error)

    def _step_retrying(self, event: StepRetrying) -> None:
        error = (f"{event.error.type_name}: {event.error.message}", event.error.traceback)
        self._end_attempt(event.step_key, event.attempt, "FAIL", event.timestamp, error)

    def _end_attempt(
        self,
        step_key: str,
        attempt_number: int,
        state: str,
        timestamp: float,
        error: tuple[str, str | None] | None,
    ) -> None:
        attempt = self._open.pop((step_key, attempt_number), None)
        if attempt is None:  # ended without a start we saw (e.g. its worker died first)
            step = self._steps.get(step_key)
            if step is None or self._run is None:
                return
            run_uuid = openlineage_run_id(self._run.run_id, step_key, attempt_number)
            attempt = _Attempt(step=step, attempt=attempt_number, run_uuid=run_uuid)
        self._emit_step(attempt, state, _time(timestamp), error=error)

    def _current(self, step_key: str) -> _Attempt | None:
        return self._open.get((step_key, self._latest.get(step_key, 1)))

    # -- building events ---------------------------------------------------------------------

    def _emit_run(
        self, state: str, at: datetime, *, error: tuple[str, str | None] | None = None
    ) -> None:
        self._sender.submit(self._facets.run_event(state, at, error=error))

    def _emit_step(
        self,
        attempt: _Attempt,
        state: str,
        at: datetime,
        *,
        error: tuple[str, str | None] | None = None,
    ) -> None:
        assert self._run is not None
        step = attempt.step
        event = self._facets.step_event(
            state,
            at,
            job_name=self._job_name(step),
            job_type="ASSET" if step.asset_keys else "OP",
            run_uuid=attempt.run_uuid,
            tags=self._tags(attempt),
            window=nominal_window(self._run.definitions, step),
            inputs=self._inputs(step, final=state != "START"),
            outputs=self._outputs(attempt, final=state != "START"),
            error=error,
        )
        self._sender.submit(event)

    def _job_name(self, step: Step) -> str:
        if step.asset_keys:
            return step.node_step_key
        return f"{step.job_name}.{step.node_step_key}" if step.job_name else step.node_step_key

    def _tags(self, attempt: _Attempt) -> dict[str, str]:
        assert self._run is not None
        step = attempt.step
        tags = {
            attrs.RUN_ID: self._run.run_id,
            attrs.STEP_KEY: step.key,
            attrs.STEP_ATTEMPT: str(attempt.attempt),
        }
        if len(step.partition_keys) == 1:
            tags[attrs.PARTITION_KEY] = step.partition_keys[0]
        elif step.partition_keys:
            tags[attrs.PARTITION_RANGE_START] = step.partition_keys[0]
            tags[attrs.PARTITION_RANGE_END] = step.partition_keys[-1]
        return tags

    def _inputs(self, step: Step, *, final: bool) -> list[LineageDataset]:
        """The datasets ``step`` reads, as far as they are known.

        An input produced in this run but not yet committed is left out of START (its path
        comes with its producer's materialization) and named by asset key at the end only if
        its path never came.
        """
        found: dict[tuple[str, str], LineageDataset] = {}
        for step_input in step.inputs:
            dataset: LineageDataset | None = None
            if step_input.asset_key is not None:
                in_run = step_input.upstream_step_key is not None or any(
                    producer for _, producer in step_input.partitions
                )
                dataset = self._asset_dataset(step_input.asset_key, guess=final or not in_run)
            elif step_input.upstream_step_key is not None:
                key = (step_input.upstream_step_key, step_input.upstream_output_name)
                dataset = self._op_outputs.get(key)
            if dataset is not None:
                found.setdefault((dataset.namespace, dataset.name), dataset)
        return list(found.values())

    def _asset_dataset(self, key: AssetKey, *, guess: bool) -> LineageDataset | None:
        name = key.to_user_string()
        dataset = self._assets.get(name)
        if dataset is None:
            with _KNOWN_LOCK:
                dataset = _KNOWN_ASSETS.get(name)
        if dataset is None and self._run is not None and self._run.stored_path is not None:
            stored = self._run.stored_path(key)  # the path its last materialization recorded
            if stored is not None:
                dataset = LineageDataset(*storage_dataset(stored[0], partitioned=stored[1]))
                self._assets[name] = dataset
        if dataset is None and guess:
            return LineageDataset(self.namespace, name)
        return dataset

    def _outputs(
        self, attempt: _Attempt, *, final: bool
    ) -> list[tuple[LineageDataset, Sequence[Mapping[str, Any]]]]:
        """Each output dataset with the metadata of what was written to it (empty at START)."""
        grouped: dict[tuple[str, str], tuple[LineageDataset, list[Mapping[str, Any]]]] = {}
        for dataset, metadata in attempt.written:
            entry = grouped.setdefault((dataset.namespace, dataset.name), (dataset, []))
            entry[1].append(metadata)
        if not final:  # at START: the outputs known from earlier runs in this process
            for key in attempt.step.asset_keys:
                with _KNOWN_LOCK:
                    known = _KNOWN_ASSETS.get(key.to_user_string())
                if known is not None:
                    grouped.setdefault((known.namespace, known.name), (known, []))
        return list(grouped.values())


def _time(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _secrets_of(environ: Mapping[str, str]) -> tuple[str, ...]:
    secrets = [environ.get("OPENLINEAGE_API_KEY", "").strip()]
    password = urlsplit(environ.get("OPENLINEAGE_URL", "")).password
    if password:
        secrets.append(password)
    return tuple(secret for secret in secrets if secret)
