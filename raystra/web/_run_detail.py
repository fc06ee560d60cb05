"""A run's steps for the run page: the step table and the attempts a Gantt chart draws."""

from __future__ import annotations

from typing import Any

from raystra.events import StepFailed, StepRetrying, StepStarted, StepSucceeded
from raystra.storage import RunRecord
from raystra.web._context import WebContext
from raystra.web._serialize import error_json, key_string, step_node, step_partition

__all__ = ["run_steps_json"]

_ATTEMPT_KINDS = [StepStarted.kind, StepSucceeded.kind, StepFailed.kind, StepRetrying.kind]


def _attempts(ctx: WebContext, run: RunRecord) -> dict[str, list[dict[str, Any]]]:
    """Each step's attempts: where it ran (node, host, worker pid), when, and how it ended."""
    attempts: dict[str, list[dict[str, Any]]] = {}
    for stored in ctx.storage.get_events(run.run_id, kinds=_ATTEMPT_KINDS):
        event = stored.event
        if isinstance(event, StepStarted):
            attempts.setdefault(event.step_key, []).append(
                {
                    "attempt": event.attempt,
                    "start": event.timestamp,
                    "end": None,
                    "status": "IN_PROGRESS",
                    "host": event.host or None,
                    "pid": event.pid or None,
                    "node": event.ray_node_id or event.host or None,
                    "ray_task_id": event.ray_task_id or None,
                    "error": None,
                }
            )
            continue
        assert isinstance(event, StepSucceeded | StepFailed | StepRetrying)
        current = attempts.get(event.step_key)
        if not current:
            continue
        last = current[-1]
        last["end"] = event.timestamp
        if isinstance(event, StepSucceeded):
            last["status"] = "SUCCESS"
        else:
            last["status"] = "FAILURE" if isinstance(event, StepFailed) else "RETRYING"
            last["error"] = error_json(event.error)
    return attempts


def run_steps_json(ctx: WebContext, run: RunRecord) -> list[dict[str, Any]]:
    """Every step of the run in plan order (steps not started yet included, as QUEUED)."""
    stats = {s.step_key: s for s in ctx.storage.get_step_stats(run.run_id)}
    attempts = _attempts(ctx, run)
    order = list(run.selection) + [key for key in stats if key not in set(run.selection)]
    steps = []
    for step_key in order:
        stat = stats.get(step_key)
        tries = attempts.get(step_key, [])
        last = tries[-1] if tries else {}
        try:
            assets = [
                key_string(k)
                for k in ctx.definitions.get_node_by_step_key(step_node(step_key)).keys
            ]
        except KeyError:  # an op of a job, or a step of definitions that changed since
            assets = []
        steps.append(
            {
                "key": step_key,
                "assets": assets,
                "asset": assets[0] if len(assets) == 1 else None,
                "partition": step_partition(step_key),
                "status": stat.status if stat else "QUEUED",
                "start": stat.start_time if stat else None,
                "end": stat.end_time if stat else None,
                "duration_s": stat.duration_s if stat else None,
                "attempts": stat.attempts if stat else 0,
                "attempt_history": tries,
                "node": last.get("node"),
                "host": last.get("host"),
                "pid": last.get("pid"),
                "error": error_json(stat.error) if stat else None,
                "skip_reason": stat.skip_reason if stat else None,
            }
        )
    return steps
