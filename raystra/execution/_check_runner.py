"""Running one asset check step: load the checked value, call the check, record its result.

`step_events` hands check steps (``Step.checked_asset`` set) to `check_step_events`. A check
that raises is recorded as a failed ERROR result carrying its traceback. A blocking check
whose result blocks (failed, severity ERROR) ends its step as failed, so executors skip the
asset's downstream steps (the planner made them wait for it); any other result, passed or
not, ends the step as succeeded.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Generator, Mapping
from typing import Any

from raystra.definitions import (
    AssetExecutionContext,
    Definitions,
    InputContext,
    IOManager,
    OutputContext,
    Resources,
)
from raystra.definitions._asset_check import (
    AssetCheckDefinition,
    AssetCheckResult,
    AssetCheckSeverity,
)
from raystra.events import (
    AssetCheckEvaluated,
    ErrorInfo,
    Event,
    StepFailed,
    StepStarted,
    StepSucceeded,
    now,
)
from raystra.execution._io import resolve_resources
from raystra.execution._outputs import NO_VALUE
from raystra.execution._partition_values import combine_partitions, partition_columns
from raystra.execution._persist import LOAD_FROM_STORAGE
from raystra.observability import SpanRecorder, StepLogCapture
from raystra.planning import Step, StepInput

__all__ = ["check_step_events"]

_HOST = socket.gethostname()


def check_step_events(
    definitions: Definitions,
    step: Step,
    *,
    run_id: str,
    upstream_values: Mapping[str, Any] | None = None,
    traceparent: str | None = None,
    ray_ids: tuple[str, str] = ("", ""),
    first_attempt: int = 1,
) -> Generator[Event, Any, Any]:
    """Run the check of ``step``; yield its events; return a ``StepOutcome``.

    Checks are not retried: a check re-reading the same value would give the same answer.
    """
    # Imported here: the step runner imports this module to dispatch check steps to it.
    from raystra.execution._step_runner import StepOutcome

    check = definitions.get_asset_check(step.node_step_key)
    started = now()
    attempt = first_attempt
    host, pid = _HOST, os.getpid()
    yield StepStarted(
        run_id=run_id,
        step_key=step.key,
        attempt=attempt,
        host=host,
        pid=pid,
        ray_task_id=ray_ids[0],
        ray_node_id=ray_ids[1],
    )
    recorder = SpanRecorder(traceparent, step.key, attempt) if traceparent else None
    capture = StepLogCapture(
        run_id=run_id,
        step_key=step.key,
        traceparent=recorder.step_traceparent if recorder else None,
    )
    result, error = _evaluate(definitions, check, step, run_id, capture, upstream_values or {})
    yield from capture.events
    target = step.upstream_step_keys[0] if step.upstream_step_keys else None
    for partition in step.partition_keys or (None,):
        yield AssetCheckEvaluated(
            run_id=run_id,
            step_key=step.key,
            asset_key=check.asset_key,
            check_name=check.name,
            partition=partition,
            passed=result.passed,
            severity=result.severity.value,
            blocking=check.blocking,
            metadata=_json_safe(result.metadata),
            description=result.description or check.description,
            error=error,
            target_step_key=target,
        )
    if check.blocking and result.blocks:
        failure = ErrorInfo(
            type_name=error.type_name if error else "AssetCheckFailed",
            message=_blocking_message(check, step, result, error),
            traceback=error.traceback if error else "",
        )
        yield StepFailed(
            run_id=run_id,
            step_key=step.key,
            attempt=attempt,
            error=failure,
            duration_s=now() - started,
            host=host,
            pid=pid,
        )
        return StepOutcome(step.key, success=False, error=failure)
    yield StepSucceeded(
        run_id=run_id, step_key=step.key, attempt=attempt, duration_s=now() - started
    )
    return StepOutcome(step.key, success=True, attempt=attempt, started_at=started)


def _evaluate(
    definitions: Definitions,
    check: AssetCheckDefinition,
    step: Step,
    run_id: str,
    capture: StepLogCapture,
    upstream_values: Mapping[str, Any],
) -> tuple[AssetCheckResult, ErrorInfo | None]:
    """The check's result, or a failed ERROR result with the error when anything raised."""
    resources: dict[str, Any] = {}
    secrets: tuple[str, ...] = ()
    try:
        keys = {*check.required_resource_keys, *(i.io_manager_key for i in step.inputs)}
        resources, secrets = resolve_resources(definitions, keys)
        capture.add_secrets(secrets)
        context = AssetExecutionContext(
            run_id=run_id,
            step_key=step.key,
            node_name=check.name,
            asset_keys=(check.asset_key,),
            resources=Resources(resources),
            log=capture.logger,
            partition_keys_value=step.partition_keys,
            partitions_def=definitions.partitions_def_for(check.asset_key),
        )
        kwargs: dict[str, Any] = {param: resources[param] for param in check.resource_params}
        for step_input in step.inputs:
            kwargs[step_input.name] = _value(
                definitions, check, step, step_input, context, upstream_values
            )
        if check.context_param is not None:
            kwargs[check.context_param] = context
        with capture.capture_output():
            result = check.fn(**kwargs)
        if isinstance(result, bool):  # a bare True/False reads naturally in small checks
            result = AssetCheckResult(passed=result)
        if not isinstance(result, AssetCheckResult):
            raise TypeError(
                f"Asset check {check.check_key!r} returned {type(result).__name__} "
                f"{result!r}; return AssetCheckResult(passed=..., ...)."
            )
        return result, None
    except Exception as exc:
        error = ErrorInfo.from_exception(exc).redacted(secrets)
        failed = AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            description=f"the check raised {error.type_name}: {error.message}",
        )
        return failed, error
    finally:
        for resource in resources.values():
            teardown = getattr(resource, "teardown_after_execution", None)
            if callable(teardown):
                teardown()


def _value(
    definitions: Definitions,
    check: AssetCheckDefinition,
    step: Step,
    step_input: StepInput,
    context: AssetExecutionContext,
    upstream_values: Mapping[str, Any],
) -> Any:
    """The checked value: handed over from this run's asset step, else loaded from storage."""
    if not step_input.partitioned:
        handed = upstream_values.get(step_input.name, LOAD_FROM_STORAGE)
        if handed is LOAD_FROM_STORAGE or handed is NO_VALUE:
            return _load(definitions, check, step, step_input, context, None)
        return handed
    handed_parts = upstream_values.get(step_input.name, {})
    parts = {
        partition: handed_parts[partition]
        if handed_parts.get(partition, LOAD_FROM_STORAGE) is not LOAD_FROM_STORAGE
        else _load(definitions, check, step, step_input, context, partition)
        for partition, _producer in step_input.partitions
    }
    return combine_partitions(parts, definitions.partitions_def_for(check.asset_key))


def _load(
    definitions: Definitions,
    check: AssetCheckDefinition,
    step: Step,
    step_input: StepInput,
    context: AssetExecutionContext,
    partition: str | None,
) -> Any:
    io_manager: IOManager = context.resources.get(step_input.io_manager_key)
    partitions_def = definitions.partitions_def_for(check.asset_key)
    upstream = OutputContext(
        run_id=step_input.load_from_run_id or context.run_id,
        step_key=step_input.upstream_step_key or "",
        output_name=step_input.upstream_output_name,
        asset_key=check.asset_key,
        partition_key=partition,
        partition_dimensions=partition_columns(partitions_def, partition) if partition else {},
    )
    input_context = InputContext(
        name=step_input.name,
        step_key=step.key,
        upstream_output=upstream,
        expected_type=check.value_type,
        partition_key=partition,
        resources=context.resources,
        log=context.log,
    )
    return io_manager.load_input(input_context)


def _blocking_message(
    check: AssetCheckDefinition, step: Step, result: AssetCheckResult, error: ErrorInfo | None
) -> str:
    keys = step.partition_keys
    where = f" (partition{'s' if len(keys) > 1 else ''} {', '.join(keys)})" if keys else ""
    why = (
        f"it raised {error.type_name}: {error.message}"
        if error
        else result.description
        or (f"expected {check.description.strip()}" if check.description else "it did not pass")
    )
    return (
        f"Blocking check {check.name!r} of asset {check.asset_key.to_user_string()!r} failed"
        f"{where}: {why}. Steps reading the asset in this run were skipped."
    )


def _json_safe(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata as stored: values JSON cannot hold are kept as their ``repr``."""
    safe: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = repr(value)
        safe[str(key)] = value
    return safe
