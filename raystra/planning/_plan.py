"""Execution plans: frozen steps over assets (or job ops), built without Ray or a database."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from raystra.definitions import (
    AssetKey,
    AssetsDefinition,
    Definitions,
    JobDefinition,
    step_key_for,
)
from raystra.definitions._node import NodeDefinition
from raystra.errors import SelectionError

__all__ = ["ExecutionPlan", "Step", "StepInput", "build_asset_plan", "build_job_plan"]


@dataclass(frozen=True)
class StepInput:
    """Where one input of a step comes from.

    ``upstream_step_key`` set: handed over in memory from that step of this run. Otherwise the
    value is loaded through the producer's IO manager: an asset by ``asset_key``, an op output
    of step ``load_from_step_key`` in run ``load_from_run_id``.
    """

    name: str
    upstream_output_name: str = "result"
    upstream_step_key: str | None = None
    asset_key: AssetKey | None = None
    load_from_run_id: str | None = None
    load_from_step_key: str | None = None
    io_manager_key: str = "io_manager"
    # For a partitioned upstream asset: each upstream partition read, with the step of this
    # run that produces it (None: loaded through the IO manager).
    partitions: tuple[tuple[str, str | None], ...] = ()
    partitioned: bool = False

    @property
    def from_storage(self) -> bool:
        """True when the whole value is loaded through an IO manager rather than handed over."""
        return self.upstream_step_key is None and not self.partitioned


@dataclass(frozen=True)
class Step:
    """One unit of execution: a node (asset function or op invocation) run once.

    ``upstream_step_keys`` covers data inputs and non-data ``deps`` that are in the same plan.
    """

    key: str
    node_name: str
    kind: str
    inputs: tuple[StepInput, ...] = ()
    upstream_step_keys: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ("result",)
    asset_keys: tuple[AssetKey, ...] = ()
    job_name: str | None = None
    # A plain dict (read-only by convention): cheap to pickle, as plans travel to workers.
    ray_options: Mapping[str, Any] = field(default_factory=dict)
    pool: str | None = None
    # Partitions this step materializes (several for a range under a BackfillPolicy).
    partition_keys: tuple[str, ...] = ()
    # Step key of the node when it differs from ``key`` (partitioned steps: ``name[key]``).
    node_key: str | None = None
    # For an asset check step (kind ``check``): the asset it checks. Its node key is the
    # check's ``asset:check`` key; it materializes nothing, so ``asset_keys`` stays empty.
    checked_asset: AssetKey | None = None

    @property
    def node_step_key(self) -> str:
        """The key of the asset function or op this step runs."""
        return self.node_key or self.key


@dataclass(frozen=True)
class ExecutionPlan:
    """Steps in topological order (every step after the steps it depends on).

    Example:
        >>> plan = ExecutionPlan(steps=(Step(key="a", node_name="a", kind="asset"),))
        >>> plan.step_keys
        ('a',)
    """

    steps: tuple[Step, ...]
    job_name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", MappingProxyType({s.key: s for s in self.steps}))

    def __reduce__(self) -> tuple[Any, ...]:
        # Ship only the steps: the index is rebuilt on arrival (workers unpickle plans per run).
        return (ExecutionPlan, (self.steps, self.job_name))

    @property
    def step_keys(self) -> tuple[str, ...]:
        """Step keys in execution order."""
        return tuple(step.key for step in self.steps)

    def step(self, key: str) -> Step:
        """The step called ``key``."""
        by_key: Mapping[str, Step] = self._by_key  # type: ignore[attr-defined]
        return by_key[key]

    def downstream(self) -> dict[str, list[str]]:
        """Step key -> keys of steps in this plan that depend on it."""
        children: dict[str, list[str]] = {step.key: [] for step in self.steps}
        for step in self.steps:
            for parent in step.upstream_step_keys:
                children[parent].append(step.key)
        return children

    @property
    def asset_keys(self) -> tuple[AssetKey, ...]:
        """Every asset the plan materializes."""
        return tuple(key for step in self.steps for key in step.asset_keys)


def _step_common(node: NodeDefinition) -> dict[str, Any]:
    return {"ray_options": dict(node.ray_options), "pool": node.pool}


# Recent plans per Definitions (immutable once built): a schedule, sensor or UI that launches
# the same selection again skips planning (13 ms for 1,000 assets).
_PLANS: weakref.WeakKeyDictionary[Definitions, OrderedDict[frozenset[AssetKey], ExecutionPlan]] = (
    weakref.WeakKeyDictionary()
)
_PLANS_KEPT = 16
_PLANS_LOCK = threading.Lock()


def build_asset_plan(defs: Definitions, selected: Iterable[AssetKey]) -> ExecutionPlan:
    """Plan the steps that materialize ``selected`` assets.

    A selected asset of a multi-asset pulls in the whole multi-asset (its outputs are computed
    together). Inputs whose producer is not in the plan are loaded from storage. External
    `AssetSpec` keys in the selection are ignored: raystra never materializes them. Plans are
    remembered per `Definitions` and selection, so planning the same selection again is free.
    """
    wanted = frozenset(selected)
    with _PLANS_LOCK:
        plan = _PLANS.setdefault(defs, OrderedDict()).get(wanted)
    if plan is None:
        plan = _plan_assets(defs, wanted)
    with _PLANS_LOCK:
        recent = _PLANS.setdefault(defs, OrderedDict())
        recent[wanted] = plan
        recent.move_to_end(wanted)
        while len(recent) > _PLANS_KEPT:
            recent.popitem(last=False)
    return plan


def _plan_assets(defs: Definitions, wanted: frozenset[AssetKey]) -> ExecutionPlan:
    for key in wanted:
        defs.get_definition(key)  # unknown keys fail here, with a suggestion
    graph = defs.asset_graph
    selected_defs = {}
    for key in defs.topological_keys:
        if key in wanted and key not in graph.external:
            assets_def = defs.get_assets_def(key)
            selected_defs[step_key_for(assets_def)] = assets_def
    producer_step = {
        key: step_key for step_key, assets_def in selected_defs.items() for key in assets_def.keys
    }
    steps = []
    for step_key, assets_def in selected_defs.items():
        inputs = []
        for node_input in assets_def.inputs:
            upstream_key = node_input.asset_key
            assert upstream_key is not None  # asset inputs always name their upstream asset
            key = upstream_key
            upstream = producer_step.get(key)
            if upstream is not None and upstream != step_key:
                inputs.append(
                    StepInput(
                        name=node_input.name,
                        upstream_step_key=upstream,
                        upstream_output_name=defs.get_assets_def(key).output_for_key(key).name,
                        asset_key=key,
                        io_manager_key=_io_manager_key_for(defs, key),
                    )
                )
            else:
                inputs.append(
                    StepInput(
                        name=node_input.name,
                        asset_key=key,
                        io_manager_key=_io_manager_key_for(defs, key),
                    )
                )
        dep_steps = {producer_step[k] for k in assets_def.dependency_keys if k in producer_step} - {
            step_key
        }
        steps.append(
            Step(
                key=step_key,
                node_name=assets_def.name,
                kind="asset",
                inputs=tuple(inputs),
                upstream_step_keys=tuple(sorted(dep_steps)),
                output_names=tuple(o.name for o in assets_def.outputs),
                asset_keys=assets_def.keys,
                **_step_common(assets_def),
            )
        )
    # Imported here: the checks module builds on this one's Step and StepInput.
    from raystra.planning._checks import add_check_steps

    return ExecutionPlan(steps=_topological(add_check_steps(defs, steps)))


def build_job_plan(
    defs: Definitions,
    job_def: JobDefinition,
    *,
    node_names: Iterable[str] | None = None,
    output_run_ids: Mapping[str, str] | None = None,
) -> ExecutionPlan:
    """Plan a job's ops, or a subset of them (re-execution).

    For a subset, inputs from ops outside it are loaded from the run given by
    ``output_run_ids[upstream node]`` (the run that last stored that op's outputs).
    """
    selected = set(job_def.node_names if node_names is None else node_names)
    unknown = sorted(selected - set(job_def.node_names))
    if unknown:
        raise SelectionError(
            f"Job {job_def.name!r} has no ops {unknown}; its ops are {list(job_def.node_names)}."
        )
    output_run_ids = dict(output_run_ids or {})
    steps = []
    for node in job_def.nodes:
        if node.name not in selected:
            continue
        inputs = []
        for node_input in node.op.inputs:
            handle = node.upstream.get(node_input.name)
            if handle is None:
                key = node_input.asset_key
                assert key is not None  # JobDefinition checked every input is wired
                inputs.append(
                    StepInput(
                        name=node_input.name,
                        asset_key=key,
                        io_manager_key=_io_manager_key_for(defs, key),
                    )
                )
                continue
            producer = job_def.node(handle.node_name).op.output(handle.output_name)
            if handle.node_name in selected:
                inputs.append(
                    StepInput(
                        name=node_input.name,
                        upstream_step_key=handle.node_name,
                        upstream_output_name=handle.output_name,
                        io_manager_key=producer.io_manager_key,
                    )
                )
            else:
                run_id = output_run_ids.get(handle.node_name)
                if run_id is None:
                    raise SelectionError(
                        f"Job {job_def.name!r}: op {node.name!r} needs the output of "
                        f"{handle.node_name!r}, which is not in this run and was not stored by "
                        "an earlier run. Include it in the selection."
                    )
                inputs.append(
                    StepInput(
                        name=node_input.name,
                        upstream_step_key=None,
                        upstream_output_name=handle.output_name,
                        load_from_run_id=run_id,
                        load_from_step_key=handle.node_name,
                        io_manager_key=producer.io_manager_key,
                    )
                )
        steps.append(
            Step(
                key=node.name,
                node_name=node.op.name,
                kind="op",
                inputs=tuple(inputs),
                upstream_step_keys=tuple(
                    sorted({i.upstream_step_key for i in inputs if i.upstream_step_key})
                ),
                output_names=tuple(o.name for o in node.op.outputs),
                job_name=job_def.name,
                **_step_common(node.op),
            )
        )
    return ExecutionPlan(steps=tuple(steps), job_name=job_def.name)


def _io_manager_key_for(defs: Definitions, key: AssetKey) -> str:
    definition = defs.get_definition(key)
    if isinstance(definition, AssetsDefinition):
        return definition.output_for_key(key).io_manager_key
    return definition.io_manager_key


def _topological(steps: list[Step]) -> tuple[Step, ...]:
    """Steps come from a topological key order already; multi-assets may need reordering."""
    by_key = {step.key: step for step in steps}
    ordered: list[Step] = []
    placed: set[str] = set()

    def place(step: Step) -> None:
        stack = [(step, False)]
        while stack:
            current, expanded = stack.pop()
            if current.key in placed:
                continue
            if expanded:
                placed.add(current.key)
                ordered.append(current)
                continue
            stack.append((current, True))
            for parent in reversed(current.upstream_step_keys):
                if parent not in placed:
                    stack.append((by_key[parent], False))

    for step in steps:
        place(step)
    return tuple(ordered)
