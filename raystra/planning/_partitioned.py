"""Plans over partitions: one step per partition (or per range), wired by partition mappings.

A backfill of 365 days over three assets is one plan of ~1,100 steps; each step depends on
exactly the steps that produce the upstream partitions it reads, so Ray runs day 2 of the
first asset beside day 1 of the second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from raystra.definitions import AssetKey, AssetsDefinition, Definitions, step_key_for
from raystra.definitions._partitions import (
    BackfillPolicy,
    DynamicPartitionsStore,
)
from raystra.errors import SelectionError
from raystra.planning._checks import add_check_steps
from raystra.planning._plan import (
    ExecutionPlan,
    Step,
    StepInput,
    _io_manager_key_for,
    _step_common,
    _topological,
)

__all__ = ["build_partitioned_plan", "chunk_keys", "partition_step_key"]


def partition_step_key(node_step_key: str, keys: Sequence[str]) -> str:
    """``orders[2024-01-01]`` for one partition, ``orders[2024-01-01...2024-01-31]`` for a range.

    Example:
        >>> partition_step_key("orders", ["2024-01-01", "2024-01-02"])
        'orders[2024-01-01...2024-01-02]'
    """
    if len(keys) == 1:
        return f"{node_step_key}[{keys[0]}]"
    return f"{node_step_key}[{keys[0]}...{keys[-1]}]"


def chunk_keys(keys: Sequence[str], policy: BackfillPolicy | None) -> list[tuple[str, ...]]:
    """Split an asset's target partitions into steps: one each, unless a policy groups them.

    Example:
        >>> chunk_keys(["a", "b", "c"], BackfillPolicy.multi_run(max_partitions_per_run=2))
        [('a', 'b'), ('c',)]
    """
    size = 1 if policy is None else policy.max_partitions_per_run or max(len(keys), 1)
    return [tuple(keys[i : i + size]) for i in range(0, len(keys), size)]


def build_partitioned_plan(
    defs: Definitions,
    selected: Iterable[AssetKey],
    targets: Mapping[AssetKey, Sequence[str]],
    *,
    current_time: datetime | None = None,
    dynamic_partitions: DynamicPartitionsStore | None = None,
) -> ExecutionPlan:
    """Plan ``selected`` assets, partitioned ones for the partition keys in ``targets``.

    ``targets`` maps each selected partitioned asset to its keys (validated, in definition
    order); an asset with no entry or no keys gets no step. Unpartitioned assets get one step.
    Upstream partitions not produced by this plan are loaded through their IO manager.
    """
    wanted = set(selected)
    nodes: dict[str, AssetsDefinition] = {}
    for key in defs.topological_keys:
        if key in wanted and key not in defs.asset_graph.external:
            assets_def = defs.get_assets_def(key)
            nodes.setdefault(step_key_for(assets_def), assets_def)

    # (asset key, partition key or "") -> step producing it
    producer: dict[tuple[AssetKey, str], str] = {}
    planned: list[tuple[str, str, AssetsDefinition, tuple[str, ...]]] = []
    for node_key, assets_def in nodes.items():
        if assets_def.partitions_def is None:
            chunks: list[tuple[str, ...]] = [()]
        else:
            keys = _node_targets(assets_def, targets)
            chunks = chunk_keys(keys, assets_def.backfill_policy)
        for chunk in chunks:
            step_key = partition_step_key(node_key, chunk) if chunk else node_key
            planned.append((step_key, node_key, assets_def, chunk))
            for asset_key in assets_def.keys:
                for partition in chunk or ("",):
                    producer[(asset_key, partition)] = step_key

    wiring = _Wiring(defs, producer, current_time, dynamic_partitions)
    steps = [wiring.step(*entry) for entry in planned]
    return ExecutionPlan(steps=_topological(add_check_steps(defs, steps)))


def _node_targets(
    assets_def: AssetsDefinition, targets: Mapping[AssetKey, Sequence[str]]
) -> list[str]:
    """The node's keys: the union over its assets (multi-assets share one definition)."""
    found: dict[str, None] = {}
    for key in assets_def.keys:
        for partition in targets.get(key, ()):
            found[partition] = None
    return list(found)


class _Wiring:
    """Builds each step's inputs and upstream steps from the partition mappings."""

    def __init__(
        self,
        defs: Definitions,
        producer: Mapping[tuple[AssetKey, str], str],
        current_time: datetime | None,
        dynamic_partitions: DynamicPartitionsStore | None,
    ) -> None:
        self.defs = defs
        self.producer = producer
        self.current_time = current_time
        self.dynamic = dynamic_partitions

    def upstream_partitions(
        self, asset: AssetsDefinition, upstream_key: AssetKey, chunk: tuple[str, ...]
    ) -> list[str] | None:
        """Upstream partitions read by ``chunk`` of ``asset`` (None: upstream unpartitioned)."""
        upstream_def = self.defs.partitions_def_for(upstream_key)
        if upstream_def is None:
            return None
        mapping = self.defs.partition_mapping_for(asset.keys[0], upstream_key)
        assert mapping is not None  # Definitions resolved one for every partitioned upstream
        return mapping.upstream_keys(
            list(chunk),
            asset.partitions_def,
            upstream_def,
            current_time=self.current_time,
            dynamic_partitions=self.dynamic,
        )

    def step(
        self, step_key: str, node_key: str, asset: AssetsDefinition, chunk: tuple[str, ...]
    ) -> Step:
        inputs: list[StepInput] = []
        parents: set[str] = set()
        own_keys = set(asset.keys)
        for node_input in asset.inputs:
            upstream_key = node_input.asset_key
            assert upstream_key is not None  # asset inputs always name their upstream asset
            step_input, producers = self._input(asset, node_input.name, upstream_key, chunk)
            inputs.append(step_input)
            parents |= producers
        for dep in asset.deps:
            if dep in own_keys:
                continue
            partitions = self.upstream_partitions(asset, dep, chunk)
            for partition in partitions if partitions is not None else ("",):
                found = self.producer.get((dep, partition))
                if found is not None:
                    parents.add(found)
        parents.discard(step_key)
        return Step(
            key=step_key,
            node_name=asset.name,
            kind="asset",
            inputs=tuple(inputs),
            upstream_step_keys=tuple(sorted(parents)),
            output_names=tuple(o.name for o in asset.outputs),
            asset_keys=asset.keys,
            partition_keys=chunk,
            node_key=None if step_key == node_key else node_key,
            **_step_common(asset),
        )

    def _input(
        self, asset: AssetsDefinition, name: str, upstream_key: AssetKey, chunk: tuple[str, ...]
    ) -> tuple[StepInput, set[str]]:
        io_manager_key = _io_manager_key_for(self.defs, upstream_key)
        output_name = _output_name(self.defs, upstream_key)
        partitions = self.upstream_partitions(asset, upstream_key, chunk)
        if partitions is None:
            found = self.producer.get((upstream_key, ""))
            return (
                StepInput(
                    name=name,
                    upstream_step_key=found,
                    upstream_output_name=output_name,
                    asset_key=upstream_key,
                    io_manager_key=io_manager_key,
                ),
                {found} if found else set(),
            )
        if not partitions:
            raise SelectionError(
                f"Asset {asset.name!r} (partitions {list(chunk)[:3]}) reads no partition of "
                f"{upstream_key.to_user_string()!r}: its partition mapping maps them to "
                "nothing. Check the mapping's offsets, or allow missing upstream partitions."
            )
        sources = tuple((p, self.producer.get((upstream_key, p))) for p in partitions)
        return (
            StepInput(
                name=name,
                upstream_output_name=output_name,
                asset_key=upstream_key,
                io_manager_key=io_manager_key,
                partitions=sources,
                partitioned=True,
            ),
            {found for _, found in sources if found is not None},
        )


def _output_name(defs: Definitions, key: AssetKey) -> str:
    definition: Any = defs.get_definition(key)
    if isinstance(definition, AssetsDefinition):
        return definition.output_for_key(key).name
    return "result"
