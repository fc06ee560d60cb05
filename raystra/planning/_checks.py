"""Asset checks in plans: one check step after each step of a checked asset.

A check step reads the asset's value like any downstream step would (handed over in memory
from the asset's step of this run), so it runs on every executor without special casing. A
*blocking* check is also made an upstream of the asset's downstream steps: when it fails,
executors skip them exactly as they skip the dependents of a failed step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from raystra.definitions import AssetKey, AssetsDefinition, Definitions
from raystra.definitions._asset_check import AssetCheckDefinition
from raystra.errors import SelectionError
from raystra.planning._plan import ExecutionPlan, Step, StepInput

__all__ = ["CHECK_KIND", "add_check_steps", "build_check_plan"]

CHECK_KIND = "check"


def add_check_steps(defs: Definitions, steps: Sequence[Step]) -> list[Step]:
    """``steps`` with the check steps of every checked asset they materialize.

    Each check step follows its asset's step; steps reading an asset wait for its blocking
    checks. Without checks in ``defs`` the steps come back unchanged.

    Example:
        >>> add_check_steps(Definitions(), [])
        []
    """
    if not defs.asset_checks:
        return list(steps)
    planned: list[Step] = []
    # (checked asset, asset step key) -> keys of its blocking check steps
    blocking: dict[tuple[AssetKey, str], list[str]] = {}
    for step in steps:
        planned.append(step)
        if step.kind != "asset":
            continue
        for asset_key in step.asset_keys:
            for check in defs.checks_for(asset_key):
                check_step = _check_step(defs, check, step)
                planned.append(check_step)
                if check.blocking:
                    blocking.setdefault((asset_key, step.key), []).append(check_step.key)
    if not blocking:
        return planned
    return [_wait_for_blocking(defs, step, blocking) for step in planned]


def build_check_plan(
    defs: Definitions,
    check_keys: Iterable[str],
    *,
    partition_keys: Sequence[str] = (),
) -> ExecutionPlan:
    """Plan checks alone (``asset:check`` keys), each reading its asset's stored value.

    For a partitioned asset, ``partition_keys`` names the partitions to check (one step each).
    Run it like any prepared plan (``run_plan`` in ``raystra.api._launch``, as backfills do);
    the results are recorded as usual.

    Example:
        >>> build_check_plan(Definitions(), []).steps
        ()
    """
    steps: list[Step] = []
    for check_key in check_keys:
        check = defs.get_asset_check(check_key)
        partitioned = defs.partitions_def_for(check.asset_key) is not None
        if partitioned and not partition_keys:
            raise SelectionError(
                f"Asset {check.asset_key.to_user_string()!r} is partitioned: name the "
                f"partitions whose stored values check {check.name!r} should read."
            )
        for chunk in [(p,) for p in partition_keys] if partitioned else [()]:
            steps.append(_check_step(defs, check, None, chunk))
    return ExecutionPlan(steps=tuple(steps))


def _check_step(
    defs: Definitions,
    check: AssetCheckDefinition,
    asset_step: Step | None,
    chunk: tuple[str, ...] = (),
) -> Step:
    """The step running ``check`` after ``asset_step``, or alone over stored ``chunk``."""
    key = check.asset_key
    assets_def = defs.get_assets_def(key)
    producer = asset_step.key if asset_step is not None else None
    if asset_step is not None:
        chunk = asset_step.partition_keys
    node_key = check.check_key
    inputs: tuple[StepInput, ...] = ()
    if check.value_param is not None:
        output_name = assets_def.output_for_key(key).name
        io_manager_key = assets_def.output_for_key(key).io_manager_key
        if chunk:
            step_input = StepInput(
                name=check.value_param,
                upstream_output_name=output_name,
                asset_key=key,
                io_manager_key=io_manager_key,
                partitions=tuple((partition, producer) for partition in chunk),
                partitioned=True,
            )
        else:
            step_input = StepInput(
                name=check.value_param,
                upstream_step_key=producer,
                upstream_output_name=output_name,
                asset_key=key,
                io_manager_key=io_manager_key,
            )
        inputs = (step_input,)
    return Step(
        key=_partitioned_key(node_key, chunk),
        node_name=check.name,
        kind=CHECK_KIND,
        inputs=inputs,
        upstream_step_keys=(producer,) if producer is not None else (),
        partition_keys=chunk,
        node_key=node_key if chunk else None,
        checked_asset=key,
    )


def _partitioned_key(node_key: str, chunk: tuple[str, ...]) -> str:
    if not chunk:
        return node_key
    if len(chunk) == 1:
        return f"{node_key}[{chunk[0]}]"
    return f"{node_key}[{chunk[0]}...{chunk[-1]}]"


def _wait_for_blocking(
    defs: Definitions, step: Step, blocking: dict[tuple[AssetKey, str], list[str]]
) -> Step:
    """``step`` waiting also for the blocking checks of the assets it reads in this plan."""
    if step.kind != "asset":
        return step
    reads = _dependency_keys(defs, step)
    extra = [
        check_key
        for parent in step.upstream_step_keys
        for (asset_key, asset_step), check_keys in blocking.items()
        if asset_step == parent and asset_key in reads
        for check_key in check_keys
    ]
    if not extra:
        return step
    upstream = tuple(sorted({*step.upstream_step_keys, *extra}))
    return dataclasses.replace(step, upstream_step_keys=upstream)


def _dependency_keys(defs: Definitions, step: Step) -> frozenset[AssetKey]:
    assets_def: AssetsDefinition = defs.get_node_by_step_key(step.node_step_key)
    return assets_def.dependency_keys
