"""Running one step where it executes: inputs in, compute, outputs committed, events out.

Executors call `run_step` (in the driver process for the in-process executor, inside a Ray task
for the Ray executor). It never talks to run storage; everything it learns is returned as events.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions import (
    AssetExecutionContext,
    AssetsDefinition,
    Definitions,
    InputContext,
    IOManager,
    OutputContext,
    Resources,
)
from raystra.definitions._node import NodeDefinition
from raystra.definitions._partitions import PartitionsDefinition
from raystra.events import (
    ErrorInfo,
    Event,
    PartitionFailed,
    StepFailed,
    StepRetrying,
    StepStarted,
    StepSucceeded,
    data_version,
    now,
)
from raystra.execution._check_runner import check_step_events
from raystra.execution._io import resolve_resources
from raystra.execution._outputs import NO_VALUE, StepOutput, collect_outputs
from raystra.execution._partition_values import (
    combine_partitions,
    partition_columns,
    split_partitions,
    splits_by_itself,
)
from raystra.execution._persist import (
    LOAD_FROM_STORAGE,
    handed_over,
    has_value,
    store_output,
    store_output_partitions,
)
from raystra.execution._schema_check import check_output_schemas
from raystra.observability import SpanRecorder, StepLogCapture
from raystra.observability import _attributes as attrs
from raystra.observability._live_logs import LiveSink
from raystra.planning import Step, StepInput, node_for_step

__all__ = ["StepOutcome", "run_step", "step_events"]

_HOST = socket.gethostname()  # asked once: steps record where they ran


@dataclass
class StepOutcome:
    """What one step produced: its events, and its output values for in-memory handoff."""

    step_key: str
    success: bool
    events: list[Event] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None
    # Outputs left for the executor to persist (name -> user metadata); while any are left,
    # StepSucceeded is not yet emitted: the executor emits it once they committed.
    deferred: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempt: int = 0
    started_at: float = 0.0


@dataclass
class _Attempt:
    """Everything one attempt sets up, so it can be torn down whatever happens."""

    step: Step
    node: NodeDefinition
    run_id: str
    attempt: int
    capture: StepLogCapture
    resources: dict[str, Any]
    definitions: Definitions
    # OutputSchemaChecked events; kept outside the attempt's result so a failed check is
    # recorded too.
    checks: list[Event] = field(default_factory=list)
    recorder: SpanRecorder | None = None  # set when the run is traced
    # An earlier attempt died with its worker: IO managers remove what it left half-written.
    earlier_attempt_lost: bool = False

    def upstream_definition(self, step_input: StepInput) -> PartitionsDefinition | None:
        assert step_input.asset_key is not None
        return self.definitions.partitions_def_for(step_input.asset_key)

    def upstream_dimensions(self, step_input: StepInput, partition: str | None) -> dict[str, str]:
        if partition is None:
            return {}
        return partition_columns(self.upstream_definition(step_input), partition)


def _handed(attempt: _Attempt, step_input: StepInput, value: Any, partition: str | None) -> Any:
    """An input value handed over in memory, as the input wants it.

    An IO manager with an ``adapt_handoff(context, value)`` method converts it (a pandas frame
    for an input annotated ``pyspark.sql.DataFrame``); others hand it over unchanged. One that
    also has ``adapts_handoff_to(expected_type)`` is asked first, so inputs it never converts
    cost no input context.
    """
    io_manager = attempt.resources[step_input.io_manager_key]
    adapt = getattr(io_manager, "adapt_handoff", None)
    if adapt is None:
        return value
    adapts_to = getattr(io_manager, "adapts_handoff_to", None)
    if adapts_to is not None and not adapts_to(attempt.node.roles.annotations.get(step_input.name)):
        return value
    return adapt(_input_context(attempt, step_input, partition), value)


def _input_context(attempt: _Attempt, step_input: StepInput, partition: str | None) -> InputContext:
    upstream = OutputContext(
        run_id=step_input.load_from_run_id or attempt.run_id,
        step_key=step_input.upstream_step_key or step_input.load_from_step_key or "",
        output_name=step_input.upstream_output_name,
        asset_key=step_input.asset_key,
        partition_key=partition,
        partition_dimensions=attempt.upstream_dimensions(step_input, partition),
    )
    return InputContext(
        name=step_input.name,
        step_key=attempt.step.key,
        upstream_output=upstream,
        expected_type=attempt.node.roles.annotations.get(step_input.name),
        partition_key=attempt.step.partition_keys[0] if attempt.step.partition_keys else None,
        resources=Resources(attempt.resources),
        log=attempt.capture.logger,
    )


def _load(attempt: _Attempt, step_input: StepInput, partition: str | None) -> Any:
    """Load one input (or one upstream partition of it) through its IO manager."""
    io_manager: IOManager = attempt.resources[step_input.io_manager_key]
    context = _input_context(attempt, step_input, partition)
    if attempt.recorder is None:
        return io_manager.load_input(context)
    attributes = _read_attributes(step_input, partition)
    with attempt.recorder.span("raystra.io.read", **attributes) as span:
        value = io_manager.load_input(context)
        rows = _row_count(value)
        if rows is not None:
            span[attrs.IO_ROWS] = rows
    return value


def _read_attributes(step_input: StepInput, partition: str | None) -> dict[str, Any]:
    attributes = {attrs.IO_INPUT: step_input.name, attrs.IO_MANAGER: step_input.io_manager_key}
    if step_input.asset_key is not None:
        attributes[attrs.ASSET_KEY] = step_input.asset_key.to_user_string()
    if partition is not None:
        attributes[attrs.PARTITION_KEY] = partition
    return attributes


def _row_count(value: Any) -> int | None:
    """Rows of an eagerly loaded table (Arrow, pandas, polars); None for lazy frames."""
    rows = getattr(value, "num_rows", None)  # pyarrow
    if isinstance(rows, int):
        return rows
    shape = getattr(value, "shape", None)  # pandas, polars (Dask's is lazy: not an int)
    if isinstance(shape, tuple) and shape and isinstance(shape[0], int):
        return shape[0]
    return None


def _load_partitions(attempt: _Attempt, step_input: StepInput) -> Any:
    """Every upstream partition of a partitioned input as one value, when its IO manager loads
    them that way (Spark and Dask read them all as one frame); else ``NotImplemented``."""
    io_manager = attempt.resources[step_input.io_manager_key]
    load = getattr(io_manager, "load_input_partitions", None)
    if load is None:
        return NotImplemented
    contexts = [_input_context(attempt, step_input, key) for key, _ in step_input.partitions]
    if attempt.recorder is None:
        return load(contexts)
    attributes = _read_attributes(step_input, None)
    attributes[attrs.PARTITION_COUNT] = len(contexts)
    with attempt.recorder.span("raystra.io.read", **attributes) as span:
        value = load(contexts)
        rows = _row_count(value)
        if rows is not None:
            span[attrs.IO_ROWS] = rows
    if value is NotImplemented:  # nothing was read: the partitions are loaded one by one next
        attempt.recorder.spans.pop()
    return value


def _load_inputs(attempt: _Attempt, upstream_values: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for step_input in attempt.step.inputs:
        if step_input.partitioned:
            whole = _load_partitions(attempt, step_input)
            if whole is not NotImplemented:
                values[step_input.name] = whole
                continue
            handed = upstream_values.get(step_input.name, {})
            parts = {
                partition: _handed(attempt, step_input, handed[partition], partition)
                if producer is not None and handed[partition] is not LOAD_FROM_STORAGE
                else _load(attempt, step_input, partition)
                for partition, producer in step_input.partitions
            }
            values[step_input.name] = combine_partitions(
                parts, attempt.upstream_definition(step_input)
            )
        elif step_input.from_storage or upstream_values[step_input.name] is LOAD_FROM_STORAGE:
            values[step_input.name] = _load(attempt, step_input, None)
        else:
            handed = upstream_values[step_input.name]
            values[step_input.name] = _handed(attempt, step_input, handed, None)
    return values


def _call(
    attempt: _Attempt, inputs: dict[str, Any], config: Mapping[str, Any] | None
) -> tuple[dict[str, StepOutput], AssetExecutionContext | None]:
    node, roles = attempt.node, attempt.node.roles
    kwargs = dict(inputs)
    # Only a function that takes a context can add metadata or fail partitions through one:
    # for the others none is built (it would be most of a trivial step's own work).
    context = None
    if roles.context_param is not None:
        context = kwargs[roles.context_param] = AssetExecutionContext(
            run_id=attempt.run_id,
            step_key=attempt.step.key,
            node_name=node.name,
            asset_keys=attempt.step.asset_keys,
            resources=Resources(attempt.resources),
            log=attempt.capture.logger,
            attempt=attempt.attempt,
            partition_keys_value=attempt.step.partition_keys,
            partitions_def=getattr(node, "partitions_def", None),
            traceparent=attempt.recorder.step_traceparent if attempt.recorder else None,
        )
    if roles.config_param is not None and roles.config_type is not None:
        kwargs[roles.config_param] = roles.config_type.model_validate(dict(config or {}))
        if context is not None:
            context.op_config = kwargs[roles.config_param]
    for param in roles.resource_params:
        kwargs[param] = attempt.resources[param]
    compute = (
        attempt.recorder.span("raystra.compute")
        if attempt.recorder is not None
        else contextlib.nullcontext()
    )
    with compute, attempt.capture.capture_output():
        result = node.fn(**kwargs)
        outputs = collect_outputs(node, result)
    return outputs, context


def _persist(
    attempt: _Attempt,
    outputs: dict[str, StepOutput],
    context: AssetExecutionContext | None,
    defer: Callable[[Any], bool] | None,
) -> tuple[list[Event], dict[str, dict[str, Any]]]:
    """Commit outputs (events only once committed); return those ``defer`` says to write later.

    Deferred outputs come back as output name -> user metadata, for the executor to persist
    beside downstream work.
    """
    if attempt.step.partition_keys:
        return _persist_partitions(attempt, outputs, context), {}
    _check(attempt, [(name, None, outputs[name].value) for name in attempt.step.output_names])
    events: list[Event] = []
    deferred: dict[str, dict[str, Any]] = {}
    consumed = _consumed(attempt, None)
    for name in attempt.step.output_names:
        output = outputs[name]
        user_metadata = {**_added_metadata(context, name), **output.metadata}
        if defer is not None and has_value(output.value) and defer(output.value):
            deferred[name] = user_metadata
            continue
        event = store_output(
            step=attempt.step,
            node=attempt.node,
            run_id=attempt.run_id,
            name=name,
            value=output.value,
            user_metadata=user_metadata,
            resources=attempt.resources,
            logger=attempt.capture.logger,
            consumed=consumed,
            recorder=attempt.recorder,
            earlier_attempt_lost=attempt.earlier_attempt_lost,
        )
        output.value = handed_over(output.value, event)
        if event is not None:
            events.append(event)
    return events, deferred


def _added_metadata(context: AssetExecutionContext | None, name: str) -> dict[str, Any]:
    return context.output_metadata(name) if context is not None else {}


def _persist_partitions(
    attempt: _Attempt, outputs: dict[str, StepOutput], context: AssetExecutionContext | None
) -> list[Event]:
    """Commit each partition of each output; partitions the step marked failed are not stored.

    Each output's value becomes ``{partition: value}`` (what downstream steps are handed).
    """
    step, node = attempt.step, attempt.node
    failed = context.failed_partitions if context is not None else {}
    committed = [key for key in step.partition_keys if key not in failed]
    definition = getattr(node, "partitions_def", None)
    # Split every output first: all partitions are checked before any is stored. A value
    # raystra cannot split (a Spark DataFrame) goes whole to its IO manager: for a range, or
    # for one partition of an asset written for ranges (its frame has the partition column).
    split: dict[str, dict[str, Any]] = {}
    whole: dict[str, Any] = {}
    ranges = len(step.partition_keys) > 1 or getattr(node, "backfill_policy", None) is not None
    for name in step.output_names:
        value = outputs[name].value
        asset_key = node.output(name).asset_key
        label = asset_key.to_user_string() if asset_key is not None else node.name
        if (
            ranges
            and has_value(value)
            and not splits_by_itself(value, step.partition_keys[0], definition)
        ):
            whole[name] = value
            continue
        split[name] = (
            split_partitions(value, step.partition_keys, definition, asset=label)
            if has_value(value)
            else {}
        )
    _check(
        attempt,
        [
            (name, key, values[key])
            for name, values in split.items()
            for key in committed
            if key in values
        ],
    )
    columns = tuple(partition_columns(definition, step.partition_keys[0]))
    _check(attempt, [(name, None, value) for name, value in whole.items()], ignored=columns)
    # Stored first: if its IO manager refuses one, no other output was stored.
    events: list[Event] = []
    for name, value in list(whole.items()):
        user_metadata = {**_added_metadata(context, name), **outputs[name].metadata}
        stored = _store_whole(attempt, name, value, committed, user_metadata)
        if stored is None:  # one partition, not in range form: stored as it is, below
            split[name] = {step.partition_keys[0]: value}
            del whole[name]
            continue
        events += stored
        split[name] = {key: LOAD_FROM_STORAGE for key in committed}
    for name in step.output_names:
        output = outputs[name]
        asset_key = node.output(name).asset_key
        values = split[name]
        user_metadata = {**_added_metadata(context, name), **output.metadata}
        for key in committed if name not in whole else ():
            event = store_output(
                step=step,
                node=node,
                run_id=attempt.run_id,
                name=name,
                value=values.get(key, output.value if not values else NO_VALUE),
                user_metadata=user_metadata,
                resources=attempt.resources,
                logger=attempt.capture.logger,
                partition=key,
                partition_dimensions=partition_columns(definition, key),
                consumed=_consumed(attempt, key),
                recorder=attempt.recorder,
                earlier_attempt_lost=attempt.earlier_attempt_lost,
            )
            if key in values:
                values[key] = handed_over(values[key], event)
            if event is not None:
                events.append(event)
        for key, reason in failed.items():
            assert asset_key is not None  # only asset steps have partitions
            events.append(
                PartitionFailed(
                    run_id=attempt.run_id,
                    step_key=step.key,
                    asset_key=asset_key,
                    partition=key,
                    reason=reason,
                )
            )
        output.value = {key: values[key] for key in committed if key in values}
    return events


def _store_whole(
    attempt: _Attempt,
    name: str,
    value: Any,
    committed: list[str],
    user_metadata: dict[str, Any],
) -> list[Event] | None:
    """Store a range step's unsplit output in one write through its IO manager (e.g. one
    Spark job with dynamic partition overwrite); one event per committed partition.

    None when the IO manager declines the value of a one-partition step: it is then stored
    as that partition's value.
    """
    step, node = attempt.step, attempt.node
    definition = getattr(node, "partitions_def", None)
    if not committed:
        return []
    events = store_output_partitions(
        step=step,
        node=node,
        run_id=attempt.run_id,
        name=name,
        value=value,
        user_metadata=user_metadata,
        resources=attempt.resources,
        logger=attempt.capture.logger,
        partitions={key: partition_columns(definition, key) for key in committed},
        consumed={key: _consumed(attempt, key) for key in committed},
        recorder=attempt.recorder,
    )
    if events is None and len(step.partition_keys) == 1:
        return None
    if events is None:  # the IO manager cannot either: say what a range step may return
        asset_key = node.output(name).asset_key
        label = asset_key.to_user_string() if asset_key is not None else node.name
        split_partitions(value, step.partition_keys, definition, asset=label)
        raise AssertionError("unreachable: split_partitions raises for this value")
    return events


def _check(
    attempt: _Attempt, values: list[tuple[str, str | None, Any]], *, ignored: tuple[str, ...] = ()
) -> None:
    """Check values against declared output schemas; raises `OutputSchemaError` on mismatch.

    ``ignored`` columns (a range's partition columns) are not compared unless declared.
    """
    node = attempt.node
    declared = [
        (node.output(name), key, value)
        for name, key, value in values
        if node.output(name).output_schema is not None and has_value(value)
    ]
    if declared:
        check_output_schemas(
            run_id=attempt.run_id,
            step_key=attempt.step.key,
            outputs=declared,
            record=attempt.checks,
            ignored_columns=ignored,
        )


def _consumed(attempt: _Attempt, partition: str | None) -> tuple[dict[str, Any], ...]:
    """What one partition (or the whole asset) read: an entry per upstream asset partition."""
    definitions, step = attempt.definitions, attempt.step
    entries: list[dict[str, Any]] = []
    for step_input in step.inputs:
        upstream_key = step_input.asset_key
        if upstream_key is None:
            continue
        label = upstream_key.to_user_string()
        code_version = definitions.code_version_for(upstream_key)
        if step_input.partitioned:
            produced = dict(step_input.partitions)
            read: list[str | None] = list(produced)
            if partition is not None and len(step.partition_keys) > 1:
                read = list(_read_by(attempt, step_input, partition, produced))
        else:
            read = [None]
            produced = {None: step_input.upstream_step_key}  # type: ignore[dict-item]
        for upstream_partition in read:
            in_run = produced.get(upstream_partition) is not None  # type: ignore[arg-type]
            run_id = attempt.run_id if in_run else None
            entries.append(
                {
                    "asset_key": label,
                    "partition": upstream_partition,
                    "run_id": run_id,
                    "data_version": data_version(label, upstream_partition, run_id, code_version)
                    if run_id
                    else None,
                }
            )
    return tuple(entries)


def _read_by(
    attempt: _Attempt, step_input: StepInput, partition: str, produced: Mapping[str, Any]
) -> list[str]:
    """The upstream partitions one partition of a range step reads (subset of the input's)."""
    assert step_input.asset_key is not None
    mapping = attempt.definitions.partition_mapping_for(
        attempt.step.asset_keys[0], step_input.asset_key
    )
    upstream_def = attempt.upstream_definition(step_input)
    if mapping is None or upstream_def is None:
        return list(produced)
    keys = mapping.upstream_keys(
        [partition], getattr(attempt.node, "partitions_def", None), upstream_def
    )
    return [key for key in keys if key in produced]


def _teardown(resources: Mapping[str, Any]) -> None:
    for resource in resources.values():
        teardown = getattr(resource, "teardown_after_execution", None)
        if callable(teardown):
            teardown()


def step_events(
    definitions: Definitions,
    step: Step,
    *,
    run_id: str,
    config: Mapping[str, Any] | None = None,
    upstream_values: Mapping[str, Any] | None = None,
    sleep: Any = time.sleep,
    defer: Callable[[Any], bool] | None = None,
    first_attempt: int = 1,
    traceparent: str | None = None,
    ray_ids: tuple[str, str] = ("", ""),
    live: LiveSink | None = None,
    live_after_s: float = 0.0,
) -> Generator[Event, None, StepOutcome]:
    """Run every attempt of one step, yielding events as they happen; return the outcome.

    ``StepStarted`` is yielded before the attempt runs; the attempt's log lines and
    materializations follow when it finishes. ``upstream_values`` holds the in-memory values
    of inputs handed over from steps of this run, keyed by input name; other inputs are loaded
    through their IO managers here. Outputs for which ``defer(value)`` is true are not written
    here but returned in `StepOutcome.deferred`. ``first_attempt`` numbers the first attempt
    (above 1 when an executor re-runs a step whose worker died). With the run's
    ``traceparent``, each attempt's phases are timed and yielded as a `StepSpans` event before
    the attempt's terminal event; ``ray_ids`` (task id, node id) are recorded on `StepStarted`.
    With a ``live`` sink, an attempt's log lines go to it while the attempt runs (once it ran
    ``live_after_s``); only the lines it did not get are yielded at the attempt's end.
    """
    if step.checked_asset is not None:
        checked: StepOutcome = yield from check_step_events(
            definitions,
            step,
            run_id=run_id,
            upstream_values=upstream_values,
            traceparent=traceparent,
            ray_ids=ray_ids,
            first_attempt=first_attempt,
        )
        return checked
    step_key = step.key
    node = node_for_step(definitions, step)
    policy = node.retry_policy
    max_attempts = 1 + (policy.max_retries if policy is not None else 0)
    host, pid = _HOST, os.getpid()
    for attempt_number in range(first_attempt, first_attempt + max_attempts):
        started = now()
        yield StepStarted(
            run_id=run_id,
            step_key=step_key,
            attempt=attempt_number,
            host=host,
            pid=pid,
            ray_task_id=ray_ids[0],
            ray_node_id=ray_ids[1],
        )
        recorder = SpanRecorder(traceparent, step_key, attempt_number) if traceparent else None
        capture = StepLogCapture(
            run_id=run_id,
            step_key=step_key,
            traceparent=recorder.step_traceparent if recorder else None,
            live=live,
            live_after_s=live_after_s,
        )
        resources: dict[str, Any] = {}
        secrets: tuple[str, ...] = ()
        checks: list[Event] = []
        try:
            # Inputs are loaded by their upstream output's IO manager, which may be one this
            # node's own outputs do not use.
            keys = {*node.required_resource_keys, *(i.io_manager_key for i in step.inputs)}
            resources, secrets = resolve_resources(definitions, keys)
            capture.add_secrets(secrets)
            for resource in resources.values():
                setup = getattr(resource, "setup_for_execution", None)
                if callable(setup):
                    setup()
            attempt = _Attempt(
                step,
                node,
                run_id,
                attempt_number,
                capture,
                resources,
                definitions,
                checks,
                recorder,
                earlier_attempt_lost=first_attempt > 1,
            )
            inputs = _load_inputs(attempt, upstream_values or {})
            outputs, context = _call(attempt, inputs, config)
            materializations, deferred = _persist(attempt, outputs, context, defer)
        except Exception as exc:
            error = ErrorInfo.from_exception(exc).redacted(secrets)
            yield from capture.take_unsent()
            yield from checks
            if recorder is not None:
                yield recorder.spans_event(run_id)
            if attempt_number < first_attempt + max_attempts - 1:
                assert policy is not None
                delay = policy.delay_for(attempt_number - first_attempt + 1)
                yield StepRetrying(
                    run_id=run_id,
                    step_key=step_key,
                    attempt=attempt_number,
                    error=error,
                    delay_s=delay,
                )
                sleep(delay)
                continue
            yield StepFailed(
                run_id=run_id,
                step_key=step_key,
                attempt=attempt_number,
                error=error,
                duration_s=now() - started,
                host=host,
                pid=pid,
            )
            return StepOutcome(step_key, success=False, error=error)
        finally:
            capture.stop_live()  # also when the run is abandoned mid-step (Ctrl-C)
            _teardown(resources)
        yield from capture.take_unsent()
        yield from checks
        yield from materializations
        if recorder is not None:
            yield recorder.spans_event(run_id)
        if not deferred:
            yield StepSucceeded(
                run_id=run_id,
                step_key=step_key,
                attempt=attempt_number,
                duration_s=now() - started,
            )
        values = {name: out.value for name, out in outputs.items() if out.value is not NO_VALUE}
        return StepOutcome(
            step_key,
            success=True,
            outputs=values,
            deferred=deferred,
            attempt=attempt_number,
            started_at=started,
        )
    raise AssertionError("unreachable: the loop returns on success or final failure")


def run_step(
    definitions: Definitions,
    step: Step,
    *,
    run_id: str,
    config: Mapping[str, Any] | None = None,
    upstream_values: Mapping[str, Any] | None = None,
    sleep: Any = time.sleep,
    defer: Callable[[Any], bool] | None = None,
    first_attempt: int = 1,
    traceparent: str | None = None,
    ray_ids: tuple[str, str] = ("", ""),
    live: LiveSink | None = None,
    live_after_s: float = 0.0,
) -> StepOutcome:
    """`step_events` for callers that want the events in one list (e.g. inside a Ray task).

    With a ``live`` sink, the events collected so far go out just before the lines sent live,
    so a step's events keep their order whichever way they travel.
    """
    events: list[Event] = []
    generator = step_events(
        definitions,
        step,
        run_id=run_id,
        config=config,
        upstream_values=upstream_values,
        sleep=sleep,
        defer=defer,
        first_attempt=first_attempt,
        traceparent=traceparent,
        ray_ids=ray_ids,
        live=_after_collected(events, live) if live is not None else None,
        live_after_s=live_after_s,
    )
    while True:
        try:
            events.append(next(generator))
        except StopIteration as done:
            outcome: StepOutcome = done.value
            outcome.events = events
            return outcome


def _after_collected(events: list[Event], live: LiveSink) -> LiveSink:
    """A sink that first sends (and drops) ``events`` collected so far: the attempt's
    `StepStarted`, an earlier attempt's last lines and `StepRetrying`."""

    def send(batch: Sequence[Event]) -> None:
        # Called from the live-log thread while the step's thread runs user code, which
        # appends nothing: it yields only when an attempt ends, after the last live batch.
        count = len(events)
        live([*events[:count], *batch])
        del events[:count]  # only once sent: a failed send leaves them to the report

    return send


def is_asset_step(node: NodeDefinition) -> bool:
    """True when the step materializes assets."""
    return isinstance(node, AssetsDefinition)
