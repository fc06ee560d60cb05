"""`Definitions`: the validated, immutable set of assets, jobs and resources of a project."""

from __future__ import annotations

import difflib
import functools
import heapq
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from raystra.definitions._asset import AssetsDefinition, AssetSpec
from raystra.definitions._asset_check import AssetCheckDefinition, index_asset_checks
from raystra.definitions._graph import AssetGraph
from raystra.definitions._instigator import InstigatorDefinition
from raystra.definitions._keys import AssetKey, validate_name
from raystra.definitions._node import DEFAULT_IO_MANAGER_KEY, NodeDefinition
from raystra.definitions._op import JobDefinition
from raystra.definitions._partitions import (
    PartitionMapping,
    PartitionsDefinition,
    resolve_partition_mapping,
)
from raystra.errors import (
    CycleError,
    DuplicateKeyError,
    InvalidDefinitionError,
    MissingResourceError,
    UnknownAssetError,
)

__all__ = ["Definitions", "suggest"]


def suggest(name: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


class Definitions:
    """Everything a raystra project defines, validated once when it is built.

    Building it checks for duplicate keys, unknown dependencies (suggesting the closest key),
    dependency cycles (printing the cycle) and resources that assets or ops need but nobody
    provides. The result is immutable; the CLI and executors read it.

    Example:
        >>> from raystra import asset
        >>> @asset
        ... def orders() -> list[int]:
        ...     return [1, 2]
        >>> @asset
        ... def revenue(orders: list[int]) -> int:
        ...     return sum(orders)
        >>> defs = Definitions(assets=[orders, revenue])
        >>> [key.to_user_string() for key in defs.topological_keys]
        ['orders', 'revenue']
    """

    def __init__(
        self,
        assets: Iterable[AssetsDefinition | AssetSpec] = (),
        *,
        jobs: Iterable[JobDefinition] = (),
        resources: Mapping[str, Any] | None = None,
        pools: Mapping[str, int] | None = None,
        schedules: Iterable[InstigatorDefinition] = (),
        sensors: Iterable[InstigatorDefinition] = (),
        asset_checks: Iterable[AssetCheckDefinition] = (),
    ) -> None:
        self._assets_defs: list[AssetsDefinition] = []
        self._specs: list[AssetSpec] = []
        for item in assets:
            if isinstance(item, AssetsDefinition):
                self._assets_defs.append(item)
            elif isinstance(item, AssetSpec):
                self._specs.append(item)
            else:
                raise InvalidDefinitionError(
                    f"Definitions(assets=...) got {type(item).__name__} {item!r}; pass functions "
                    "decorated with @asset or @multi_asset, or AssetSpec objects."
                )
        self._jobs: dict[str, JobDefinition] = {}
        for job_def in jobs:
            if not isinstance(job_def, JobDefinition):
                raise InvalidDefinitionError(
                    f"Definitions(jobs=...) got {type(job_def).__name__}; decorate the job "
                    "function with @job."
                )
            if job_def.name in self._jobs:
                raise DuplicateKeyError(f"Two jobs are named {job_def.name!r}; rename one.")
            self._jobs[job_def.name] = job_def
        self._resources = MappingProxyType(
            {validate_name(k, what="Resource key"): v for k, v in (resources or {}).items()}
        )
        self._pools = MappingProxyType(dict(pools or {}))
        for pool, limit in self._pools.items():
            if not isinstance(limit, int) or limit < 1:
                raise InvalidDefinitionError(
                    f"Pool {pool!r} has limit {limit!r}; a pool limit is a whole number >= 1."
                )
        self._by_key = self._index_keys()
        self._by_step_key = self._index_step_keys()
        self._graph = self._build_graph()
        self._topological_keys = self._toposort()
        self._check_resources()
        self._partition_mappings = self._resolve_partition_mappings()
        self._instigators = self._index_instigators(schedules, sensors)
        self._checks = index_asset_checks(asset_checks, self)

    # -- validation -------------------------------------------------------------------------

    def _index_instigators(
        self, schedules: Iterable[InstigatorDefinition], sensors: Iterable[InstigatorDefinition]
    ) -> dict[str, InstigatorDefinition]:
        """Schedules and sensors by name (one namespace: their ticks are stored by name)."""
        found: dict[str, InstigatorDefinition] = {}
        for expected, items in (("schedule", schedules), ("sensor", sensors)):
            for item in items:
                if not isinstance(item, InstigatorDefinition) or item.kind != expected:
                    raise InvalidDefinitionError(
                        f"Definitions({expected}s=...) got {type(item).__name__} {item!r}; pass "
                        f"objects made by @{expected} (or raystra's {expected} builders)."
                    )
                if item.name in found:
                    raise DuplicateKeyError(
                        f"Two schedules/sensors are named {item.name!r} (a {found[item.name].kind}"
                        f" and a {item.kind}); names are shared by both and must be unique. "
                        "Rename one with name=..."
                    )
                found[item.name] = item
        for item in found.values():
            item.validate_for(self)
        return found

    def _index_keys(self) -> dict[AssetKey, AssetsDefinition | AssetSpec]:
        by_key: dict[AssetKey, AssetsDefinition | AssetSpec] = {}
        sources: dict[AssetKey, str] = {}
        items: list[tuple[AssetKey, AssetsDefinition | AssetSpec, str]] = [
            (key, d, d.source) for d in self._assets_defs for key in d.keys
        ]
        items += [(s.key, s, f"AssetSpec({s.key.to_user_string()!r})") for s in self._specs]
        for key, definition, source in items:
            if key in by_key:
                raise DuplicateKeyError(
                    f"Asset key {key.to_user_string()!r} is defined twice: by {sources[key]} and "
                    f"by {source}. Give one a different name or key_prefix."
                )
            by_key[key] = definition
            sources[key] = source
        return by_key

    def _resolve_partition_mappings(
        self,
    ) -> dict[tuple[AssetKey, AssetKey], PartitionMapping | None]:
        """(asset, upstream asset) -> how partitions map; mismatches fail here, with the fix."""
        mappings: dict[tuple[AssetKey, AssetKey], PartitionMapping | None] = {}
        for assets_def in self._assets_defs:
            explicit = {i.asset_key: (i.name, i.partition_mapping) for i in assets_def.inputs}
            for upstream_key in sorted(assets_def.dependency_keys):
                input_name, mapping = explicit.get(upstream_key, (f"deps[{upstream_key}]", None))
                resolved = resolve_partition_mapping(
                    asset=assets_def.name,
                    input_name=input_name,
                    upstream_key=upstream_key.to_user_string(),
                    upstream=self.partitions_def_for(upstream_key),
                    downstream=assets_def.partitions_def,
                    explicit=mapping,
                )
                for key in assets_def.keys:
                    mappings[(key, upstream_key)] = resolved
        return mappings

    def code_version_for(self, key: AssetKey) -> str | None:
        """The ``code_version`` of asset ``key`` (None for external assets and unversioned ones)."""
        # Asked for every input of every step: kept per key (definitions never change).
        known = self.__dict__.setdefault("_code_versions", {})
        if key not in known:
            definition = self.get_definition(key)
            known[key] = (
                definition.output_for_key(key).code_version
                if isinstance(definition, AssetsDefinition)
                else None
            )
        version: str | None = known[key]
        return version

    def partitions_def_for(self, key: AssetKey) -> PartitionsDefinition | None:
        """How asset ``key`` is partitioned (None when it is not)."""
        return self.get_definition(key).partitions_def

    def partition_mapping_for(
        self, key: AssetKey, upstream_key: AssetKey
    ) -> PartitionMapping | None:
        """How partitions of ``key`` read partitions of ``upstream_key`` (None: not partitioned
        upstream, so the whole value is read)."""
        return self._partition_mappings.get((key, upstream_key))

    @functools.cached_property
    def partitioned(self) -> bool:
        """True when any asset is partitioned (asked on every run: worked out once)."""
        return any(self.partitions_def_for(key) is not None for key in self._by_key)

    def _index_step_keys(self) -> dict[str, AssetsDefinition]:
        by_step: dict[str, AssetsDefinition] = {}
        for assets_def in self._assets_defs:
            step_key = step_key_for(assets_def)
            if step_key in by_step:
                raise DuplicateKeyError(
                    f"Two asset functions would run as step {step_key!r}: "
                    f"{by_step[step_key].source} and {assets_def.source}. Rename one."
                )
            by_step[step_key] = assets_def
        return by_step

    def _build_graph(self) -> AssetGraph:
        parents: dict[AssetKey, frozenset[AssetKey]] = {}
        groups: dict[AssetKey, str] = {}
        known = [key.to_user_string() for key in self._by_key]
        for key, definition in self._by_key.items():
            if isinstance(definition, AssetSpec):
                deps = frozenset(definition.deps)
                groups[key] = definition.group_name
            else:
                deps = definition.dependency_keys
                groups[key] = definition.group_names[key]
            for dep in sorted(deps):
                if dep not in self._by_key:
                    raise UnknownAssetError(
                        f"Asset {key.to_user_string()!r} depends on {dep.to_user_string()!r}, "
                        f"which is not defined.{suggest(dep.to_user_string(), known)} Define it, "
                        "add it to Definitions, or declare it as an external "
                        f"AssetSpec({dep.to_user_string()!r}).{_unresolved_hint(definition, dep)}"
                    )
            parents[key] = deps
        for job_def in self._jobs.values():
            for node in job_def.nodes:
                for op_input in node.op.inputs:
                    loads = op_input.asset_key
                    if loads is None or op_input.name in node.upstream:
                        continue
                    if loads not in self._by_key:
                        raise UnknownAssetError(
                            f"Job {job_def.name!r}: op {node.name!r} input "
                            f"{op_input.name!r} loads asset {loads.to_user_string()!r}, "
                            f"which is not defined.{suggest(loads.to_user_string(), known)}"
                        )
        return AssetGraph.build(
            parents=parents, groups=groups, external=(s.key for s in self._specs)
        )

    def _toposort(self) -> tuple[AssetKey, ...]:
        """Kahn's algorithm, smallest key first, so plans are deterministic."""
        remaining = {key: len(deps) for key, deps in self._graph.parents.items()}
        ready = [key for key, count in remaining.items() if count == 0]
        heapq.heapify(ready)
        order: list[AssetKey] = []
        while ready:
            key = heapq.heappop(ready)
            order.append(key)
            for child in self._graph.children.get(key, ()):
                remaining[child] -= 1
                if remaining[child] == 0:
                    heapq.heappush(ready, child)
        if len(order) != len(remaining):
            cycle = self._find_cycle({k for k, count in remaining.items() if count > 0})
            path = " -> ".join(cycle)
            raise CycleError(
                f"The asset graph has a cycle: {path} (each feeds the next). An asset cannot "
                "depend on itself, directly or through others; remove one of these dependencies.",
                cycle,
            )
        return tuple(order)

    def _find_cycle(self, stuck: set[AssetKey]) -> list[str]:
        # Every stuck node has a stuck parent, so walking parents must revisit a node.
        start = min(stuck)
        seen: dict[AssetKey, int] = {}
        path: list[AssetKey] = []
        node = start
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = min(p for p in self._graph.parents[node] if p in stuck)
        loop = [*path[seen[node] :], node]
        return [key.to_user_string() for key in reversed(loop)]

    def _check_resources(self) -> None:
        provided = set(self._resources) | {DEFAULT_IO_MANAGER_KEY}
        users: list[tuple[str, NodeDefinition | _SpecUser]] = [
            (f"Asset {step_key_for(d)!r}", d) for d in self._assets_defs
        ]
        users += [
            (f"Op {node.name!r} of job {job_def.name!r}", node.op)
            for job_def in self._jobs.values()
            for node in job_def.nodes
        ]
        users += [
            (f"AssetSpec {spec.key.to_user_string()!r}", _SpecUser(spec)) for spec in self._specs
        ]
        for label, node in users:
            for key in sorted(node.required_resource_keys - provided):
                available = ", ".join(sorted(provided))
                raise MissingResourceError(
                    f"{label} needs resource {key!r}, but Definitions(resources=...) does not "
                    f"provide it (provided: {available}).{suggest(key, provided)} Add "
                    f"resources={{{key!r}: ...}} to Definitions."
                )
            if isinstance(node, NodeDefinition):
                for param in node.roles.resource_params:
                    expected = node.roles.annotations.get(param)
                    value = self._resources.get(param)
                    if isinstance(expected, type) and not isinstance(value, expected):
                        raise MissingResourceError(
                            f"{label} parameter {param!r} expects a {expected.__name__}, but "
                            f"resource {param!r} is a {type(value).__name__}. Provide a "
                            f"{expected.__name__} under that key."
                        )

    # -- read access ------------------------------------------------------------------------

    @property
    def assets(self) -> tuple[AssetsDefinition, ...]:
        """Materializable asset definitions, in the order given."""
        return tuple(self._assets_defs)

    @property
    def asset_specs(self) -> tuple[AssetSpec, ...]:
        """External assets declared with `AssetSpec`."""
        return tuple(self._specs)

    @property
    def jobs(self) -> Mapping[str, JobDefinition]:
        """Jobs by name."""
        return MappingProxyType(self._jobs)

    @property
    def resources(self) -> Mapping[str, Any]:
        """Resources by key, as given (EnvVar values unresolved)."""
        return self._resources

    @property
    def pools(self) -> Mapping[str, int]:
        """Concurrency pool limits by pool name."""
        return self._pools

    @property
    def asset_graph(self) -> AssetGraph:
        """The dependency graph over every asset key."""
        return self._graph

    @property
    def topological_keys(self) -> tuple[AssetKey, ...]:
        """Every asset key, upstream before downstream, ties broken by key."""
        return self._topological_keys

    def with_resources(self, extra: Mapping[str, Any]) -> Definitions:
        """A copy with ``extra`` resources added (or replacing ones of the same key).

        Adding resources cannot break any other check, so the graph is not validated again.

        Example:
            >>> Definitions().with_resources({"api": "client"}).resources["api"]
            'client'
        """
        for key in extra:
            validate_name(key, what="Resource key")
        copy = object.__new__(Definitions)
        copy.__dict__.update(self.__dict__)
        copy._resources = MappingProxyType({**self._resources, **extra})
        return copy

    @property
    def schedules(self) -> tuple[InstigatorDefinition, ...]:
        """Schedules (`raystra.automation.ScheduleDefinition`), in the order given."""
        return tuple(i for i in self._instigators.values() if i.kind == "schedule")

    @property
    def sensors(self) -> tuple[InstigatorDefinition, ...]:
        """Sensors (`raystra.automation.SensorDefinition`), in the order given."""
        return tuple(i for i in self._instigators.values() if i.kind == "sensor")

    def get_instigator(self, name: str, kind: str | None = None) -> InstigatorDefinition:
        """The schedule or sensor called ``name`` (of ``kind`` when given), with a suggestion."""
        found = self._instigators.get(name)
        if found is not None and (kind is None or found.kind == kind):
            return found
        names = [n for n, i in self._instigators.items() if kind is None or i.kind == kind]
        what = kind or "schedule or sensor"
        raise UnknownAssetError(
            f"No {what} {name!r} is defined.{suggest(name, names)} Defined: "
            f"{', '.join(sorted(names)) or 'none'}."
        )

    @property
    def asset_checks(self) -> tuple[AssetCheckDefinition, ...]:
        """Asset checks (`raystra.asset_check`), in the order given."""
        return tuple(check for checks in self._checks.values() for check in checks)

    def checks_for(self, key: AssetKey) -> tuple[AssetCheckDefinition, ...]:
        """The checks of asset ``key`` (empty when it has none)."""
        return self._checks.get(key, ())

    def get_asset_check(self, check_key: str) -> AssetCheckDefinition:
        """The check named ``asset:check`` (its `AssetCheckDefinition.check_key`)."""
        for check in self.asset_checks:
            if check.check_key == check_key:
                return check
        known = [check.check_key for check in self.asset_checks]
        raise UnknownAssetError(
            f"No asset check {check_key!r} is defined.{suggest(check_key, known)} Checks: "
            f"{', '.join(known) or 'none'}."
        )

    def has_asset(self, key: AssetKey) -> bool:
        """True if ``key`` is defined (materializable or external)."""
        return key in self._by_key

    def get_definition(self, key: AssetKey) -> AssetsDefinition | AssetSpec:
        """The definition that declares ``key``; `UnknownAssetError` with a suggestion if none."""
        try:
            return self._by_key[key]
        except KeyError:
            known = [k.to_user_string() for k in self._by_key]
            raise UnknownAssetError(
                f"No asset {key.to_user_string()!r} is defined."
                f"{suggest(key.to_user_string(), known)} `raystra assets list` shows all assets."
            ) from None

    def get_assets_def(self, key: AssetKey) -> AssetsDefinition:
        """The materializable definition of ``key``."""
        definition = self.get_definition(key)
        if isinstance(definition, AssetSpec):
            raise InvalidDefinitionError(
                f"Asset {key.to_user_string()!r} is an external AssetSpec; raystra does not "
                "materialize it."
            )
        return definition

    def get_node_by_step_key(self, step_key: str) -> AssetsDefinition:
        """The asset definition that runs as ``step_key``.

        A check's step key (``asset:check``) gives the checked asset's definition, so running
        a failed check again re-materializes the asset it checks.
        """
        found = self._by_step_key.get(step_key)
        if found is None and ":" in step_key:
            for check in self.asset_checks:
                if check.check_key == step_key:
                    return self.get_assets_def(check.asset_key)
        if found is None:
            raise KeyError(step_key)
        return found

    def get_job(self, name: str) -> JobDefinition:
        """The job called ``name``, with a suggestion if there is none."""
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownAssetError(
                f"No job {name!r} is defined.{suggest(name, self._jobs)} Jobs: "
                f"{', '.join(sorted(self._jobs)) or 'none'}."
            ) from None

    def __repr__(self) -> str:
        return (
            f"<Definitions {len(self._by_key)} assets, {len(self._jobs)} jobs, "
            f"{len(self._resources)} resources>"
        )


def _unresolved_hint(definition: AssetsDefinition | AssetSpec, dep: AssetKey) -> str:
    """Explain an 'unknown asset' that is really a resource whose annotation did not resolve."""
    if isinstance(definition, AssetSpec):
        return ""
    annotation = definition.roles.unresolved.get(dep.name)
    if annotation is None:
        return ""
    return (
        f" (Parameter {dep.name!r} is annotated {annotation!r}, which raystra could not resolve;"
        " if it is a ConfigurableResource, define that class at module level.)"
    )


class _SpecUser:
    """Adapts an AssetSpec to the one attribute the resource check reads."""

    def __init__(self, spec: AssetSpec) -> None:
        self.required_resource_keys = frozenset({spec.io_manager_key})


def step_key_for(assets_def: AssetsDefinition) -> str:
    """The step key of an asset definition: its asset key for one asset, else its name."""
    if len(assets_def.outputs) == 1:
        return assets_def.key.to_user_string()
    return assets_def.name
