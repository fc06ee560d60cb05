"""Running one step where it executes: inputs in, compute, outputs committed, events out.

Executors call `run_step` (in the driver process for the in-process executor, inside a Ray task
for the Ray executor). It never talks to run storage; everything it learns is returned as events.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Generator, Mapping
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
from raystra.events import (
    AssetMaterialized,
    ErrorInfo,
    Event,
    OpOutputStored,
    StepFailed,
    StepRetrying,
    StepStarted,
    StepSucceeded,
    now,
)
from raystra.execution._io import resolve_resources
from raystra.execution._outputs import NO_VALUE, StepOutput, collect_outputs
from raystra.observability import StepLogCapture
from raystra.planning import ExecutionPlan, Step, node_for_step

__all__ = ["StepOutcome", "run_step", "step_events"]


@dataclass
class StepOutcome:
    """What one step produced: its events, and its output values for in-memory handoff."""

    step_key: str
    success: bool
    events: list[Event] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None


@dataclass
class _Attempt:
    """Everything one attempt sets up, so it can be torn down whatever happens."""

    step: Step
    node: NodeDefinition
    run_id: str
    attempt: int
    capture: StepLogCapture
    resources: dict[str, Any]


def _output_context(attempt: _Attempt, output_name: str) -> OutputContext:
    output = attempt.node.output(output_name)
    return OutputContext(
        run_id=attempt.run_id,
        step_key=attempt.step.key,
        output_name=output_name,
        asset_key=output.asset_key,
        definition_metadata=output.metadata,
        resources=Resources(attempt.resources),
        log=attempt.capture.logger,
    )


def _load_inputs(attempt: _Attempt, upstream_values: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    annotations = attempt.node.roles.annotations
    for step_input in attempt.step.inputs:
        if not step_input.from_storage:
            values[step_input.name] = upstream_values[step_input.name]
            continue
        upstream = OutputContext(
            run_id=step_input.load_from_run_id or attempt.run_id,
            step_key=step_input.upstream_step_key or step_input.load_from_step_key or "",
            output_name=step_input.upstream_output_name,
            asset_key=step_input.asset_key,
        )
        io_manager: IOManager = attempt.resources[step_input.io_manager_key]
        values[step_input.name] = io_manager.load_input(
            InputContext(
                name=step_input.name,
                step_key=attempt.step.key,
                upstream_output=upstream,
                expected_type=annotations.get(step_input.name),
                resources=Resources(attempt.resources),
                log=attempt.capture.logger,
            )
        )
    return values


def _call(
    attempt: _Attempt, inputs: dict[str, Any], config: Mapping[str, Any] | None
) -> tuple[dict[str, StepOutput], AssetExecutionContext]:
    node, roles = attempt.node, attempt.node.roles
    context = AssetExecutionContext(
        run_id=attempt.run_id,
        step_key=attempt.step.key,
        node_name=node.name,
        asset_keys=attempt.step.asset_keys,
        resources=Resources(attempt.resources),
        log=attempt.capture.logger,
        attempt=attempt.attempt,
    )
    kwargs = dict(inputs)
    if roles.context_param is not None:
        kwargs[roles.context_param] = context
    if roles.config_param is not None and roles.config_type is not None:
        kwargs[roles.config_param] = roles.config_type.model_validate(dict(config or {}))
        context.op_config = kwargs[roles.config_param]
    for param in roles.resource_params:
        kwargs[param] = attempt.resources[param]
    with attempt.capture.capture_output():
        result = node.fn(**kwargs)
        outputs = collect_outputs(node, result)
    return outputs, context


def _persist(
    attempt: _Attempt, outputs: dict[str, StepOutput], context: AssetExecutionContext
) -> list[Event]:
    """Commit each output through its IO manager; events only for committed outputs."""
    events: list[Event] = []
    for name in attempt.step.output_names:
        output = outputs[name]
        definition = attempt.node.output(name)
        metadata = {**context.output_metadata(name), **output.metadata}
        if output.value is not NO_VALUE and output.value is not None:
            io_manager: IOManager = attempt.resources[definition.io_manager_key]
            stored = dict(
                io_manager.handle_output(_output_context(attempt, name), output.value) or {}
            )
            # What the IO manager measured (path, row_count, ...) is a fact about the stored
            # data: a user value under the same key must not replace it silently.
            for key in sorted(set(stored) & set(metadata)):
                if stored[key] != metadata[key]:
                    attempt.capture.logger.warning(
                        "output %r: metadata key %r is set by the IO manager; your value %r is "
                        "kept as %r",
                        name,
                        key,
                        metadata[key],
                        f"user/{key}",
                    )
                    metadata[f"user/{key}"] = metadata.pop(key)
            metadata = {**metadata, **stored}
        if definition.asset_key is not None:
            events.append(
                AssetMaterialized(
                    run_id=attempt.run_id,
                    step_key=attempt.step.key,
                    asset_key=definition.asset_key,
                    metadata=metadata,
                    code_version=definition.code_version,
                )
            )
        elif output.value is not NO_VALUE and output.value is not None:
            events.append(
                OpOutputStored(
                    run_id=attempt.run_id,
                    step_key=attempt.step.key,
                    output_name=name,
                    metadata=metadata,
                )
            )
    return events


def _teardown(resources: Mapping[str, Any]) -> None:
    for resource in resources.values():
        teardown = getattr(resource, "teardown_after_execution", None)
        if callable(teardown):
            teardown()


def step_events(
    definitions: Definitions,
    plan: ExecutionPlan,
    step_key: str,
    *,
    run_id: str,
    config: Mapping[str, Any] | None = None,
    upstream_values: Mapping[str, Any] | None = None,
    sleep: Any = time.sleep,
) -> Generator[Event, None, StepOutcome]:
    """Run every attempt of one step, yielding events as they happen; return the outcome.

    ``StepStarted`` is yielded before the attempt runs; the attempt's log lines and
    materializations follow when it finishes. ``upstream_values`` holds the in-memory values
    of inputs handed over from steps of this run, keyed by input name; other inputs are loaded
    through their IO managers here.
    """
    step = plan.step(step_key)
    node = node_for_step(definitions, plan, step_key)
    policy = node.retry_policy
    max_attempts = 1 + (policy.max_retries if policy is not None else 0)
    host, pid = socket.gethostname(), os.getpid()
    for attempt_number in range(1, max_attempts + 1):
        started = now()
        yield StepStarted(
            run_id=run_id, step_key=step_key, attempt=attempt_number, host=host, pid=pid
        )
        capture = StepLogCapture(run_id=run_id, step_key=step_key)
        resources: dict[str, Any] = {}
        secrets: tuple[str, ...] = ()
        try:
            resources, secrets = resolve_resources(definitions, node.required_resource_keys)
            capture.add_secrets(secrets)
            for resource in resources.values():
                setup = getattr(resource, "setup_for_execution", None)
                if callable(setup):
                    setup()
            attempt = _Attempt(step, node, run_id, attempt_number, capture, resources)
            inputs = _load_inputs(attempt, upstream_values or {})
            outputs, context = _call(attempt, inputs, config)
            materializations = _persist(attempt, outputs, context)
        except Exception as exc:
            error = ErrorInfo.from_exception(exc).redacted(secrets)
            yield from capture.events
            if attempt_number < max_attempts:
                assert policy is not None
                delay = policy.delay_for(attempt_number)
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
            _teardown(resources)
        yield from capture.events
        yield from materializations
        yield StepSucceeded(
            run_id=run_id,
            step_key=step_key,
            attempt=attempt_number,
            duration_s=now() - started,
        )
        values = {name: out.value for name, out in outputs.items() if out.value is not NO_VALUE}
        return StepOutcome(step_key, success=True, outputs=values)
    raise AssertionError("unreachable: the loop returns on success or final failure")


def run_step(
    definitions: Definitions,
    plan: ExecutionPlan,
    step_key: str,
    *,
    run_id: str,
    config: Mapping[str, Any] | None = None,
    upstream_values: Mapping[str, Any] | None = None,
    sleep: Any = time.sleep,
) -> StepOutcome:
    """`step_events` for callers that want the events in one list (e.g. inside a Ray task)."""
    events: list[Event] = []
    generator = step_events(
        definitions,
        plan,
        step_key,
        run_id=run_id,
        config=config,
        upstream_values=upstream_values,
        sleep=sleep,
    )
    while True:
        try:
            events.append(next(generator))
        except StopIteration as done:
            outcome: StepOutcome = done.value
            outcome.events = events
            return outcome


def is_asset_step(node: NodeDefinition) -> bool:
    """True when the step materializes assets."""
    return isinstance(node, AssetsDefinition)
