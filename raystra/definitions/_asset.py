"""Software-defined assets: ``@asset``, ``@multi_asset`` and external ``AssetSpec``s."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from raystra.definitions._automation_condition import AutomationCondition
from raystra.definitions._freshness import FreshnessPolicy
from raystra.definitions._keys import AssetKey, CoercibleToAssetKey, validate_name
from raystra.definitions._node import (
    DEFAULT_IO_MANAGER_KEY,
    NodeDefinition,
    NodeInput,
    NodeOutput,
    ParameterRoles,
    analyse_parameters,
    check_ins_match_parameters,
)
from raystra.definitions._output_schema import declare_output_schema
from raystra.definitions._partitions import BackfillPolicy, PartitionMapping, PartitionsDefinition
from raystra.definitions._retry import RetryPolicy
from raystra.errors import InvalidDefinitionError

_T = TypeVar("_T")

__all__ = ["AssetIn", "AssetOut", "AssetSpec", "AssetsDefinition", "asset", "multi_asset"]

KeyPrefix = str | Sequence[str] | None


@dataclass(frozen=True)
class AssetIn:
    """Where a parameter's upstream asset comes from, when its name is not the key.

    Example:
        >>> AssetIn(key="raw/orders").key
        AssetKey('raw/orders')
    """

    key: AssetKey | None = None
    key_prefix: KeyPrefix = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    partition_mapping: PartitionMapping | None = None

    def __init__(
        self,
        key: CoercibleToAssetKey | None = None,
        *,
        key_prefix: KeyPrefix = None,
        metadata: Mapping[str, Any] | None = None,
        partition_mapping: PartitionMapping | None = None,
    ) -> None:
        object.__setattr__(self, "key", AssetKey.from_coercible(key) if key is not None else None)
        object.__setattr__(self, "key_prefix", key_prefix)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        if partition_mapping is not None and not isinstance(partition_mapping, PartitionMapping):
            raise InvalidDefinitionError(
                f"AssetIn(partition_mapping=...) takes a PartitionMapping such as "
                f"TimeWindowPartitionMapping(start_offset=-6), got {partition_mapping!r}."
            )
        object.__setattr__(self, "partition_mapping", partition_mapping)


@dataclass(frozen=True, kw_only=True)
class AssetOut:
    """One output of a `multi_asset`: its key and per-asset attributes.

    ``output_schema`` (a pyarrow schema or a pydantic row model) is checked against the value
    before it is stored, as for `asset`.

    Example:
        >>> AssetOut(key_prefix="marts", group_name="sales").group_name
        'sales'
    """

    key: CoercibleToAssetKey | None = None
    key_prefix: KeyPrefix = None
    group_name: str | None = None
    io_manager_key: str = DEFAULT_IO_MANAGER_KEY
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    code_version: str | None = None
    output_schema: Any = None
    output_schema_extra: str = "forbid"


@dataclass(frozen=True, init=False)
class AssetSpec:
    """An asset raystra knows about but never materializes (a source table, a vendor file).

    Other assets may depend on it; their inputs load it through its IO manager.

    Example:
        >>> AssetSpec("raw/vendor_prices", group_name="raw").key
        AssetKey('raw/vendor_prices')
    """

    key: AssetKey
    group_name: str
    description: str | None
    metadata: Mapping[str, Any]
    io_manager_key: str
    deps: tuple[AssetKey, ...]
    partitions_def: PartitionsDefinition | None

    def __init__(
        self,
        key: CoercibleToAssetKey,
        *,
        group_name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        io_manager_key: str = DEFAULT_IO_MANAGER_KEY,
        deps: Iterable[CoercibleToAssetKey] = (),
        partitions_def: PartitionsDefinition | None = None,
    ) -> None:
        object.__setattr__(
            self, "partitions_def", _check_partitions_def(partitions_def, f"AssetSpec {key!r}")
        )
        object.__setattr__(self, "key", AssetKey.from_coercible(key))
        object.__setattr__(
            self, "group_name", validate_name(group_name or "default", what="Group name")
        )
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "io_manager_key", io_manager_key)
        object.__setattr__(self, "deps", _coerce_deps(deps))

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """The single key, as a tuple (same shape as `AssetsDefinition.keys`)."""
        return (self.key,)


class AssetsDefinition(NodeDefinition):
    """One compute function that materializes one or more assets (``@asset``/``@multi_asset``).

    Example:
        >>> @asset
        ... def orders() -> list[int]:
        ...     return [1, 2, 3]
        >>> orders.key, orders()
        (AssetKey('orders'), [1, 2, 3])
    """

    kind = "asset"

    def __init__(
        self,
        *,
        deps: tuple[AssetKey, ...] = (),
        can_subset: bool = False,
        partitions_def: PartitionsDefinition | None = None,
        backfill_policy: BackfillPolicy | None = None,
        freshness_policy: FreshnessPolicy | None = None,
        automation_condition: AutomationCondition | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deps = deps
        self.can_subset = can_subset
        self.partitions_def = _check_partitions_def(partitions_def, f"asset {self.name!r}")
        if backfill_policy is not None and not isinstance(backfill_policy, BackfillPolicy):
            raise InvalidDefinitionError(
                f"Asset {self.name!r}: backfill_policy must be BackfillPolicy.single_run() or "
                f"BackfillPolicy.multi_run(max_partitions_per_run=N), got {backfill_policy!r}."
            )
        if backfill_policy is not None and partitions_def is None:
            raise InvalidDefinitionError(
                f"Asset {self.name!r} has a backfill_policy but no partitions_def: a backfill "
                "policy says how many partitions one step covers. Add partitions_def=..., or "
                "remove backfill_policy."
            )
        self.backfill_policy = backfill_policy
        self.freshness_policy = _check_option(
            freshness_policy,
            FreshnessPolicy,
            self.name,
            "freshness_policy",
            "FreshnessPolicy(maximum_lag_minutes=60)",
        )
        self.automation_condition = _check_option(
            automation_condition,
            AutomationCondition,
            self.name,
            "automation_condition",
            "AutomationCondition.eager()",
        )

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """Every asset key this definition materializes."""
        return tuple(output.asset_key for output in self.outputs if output.asset_key is not None)

    @property
    def key(self) -> AssetKey:
        """The asset key, for single-asset definitions."""
        if len(self.outputs) != 1:
            raise InvalidDefinitionError(
                f"{self.name!r} materializes {len(self.outputs)} assets; use .keys instead."
            )
        key = self.outputs[0].asset_key
        assert key is not None  # every asset output has a key by construction
        return key

    @property
    def dependency_keys(self) -> frozenset[AssetKey]:
        """Upstream keys: data inputs and non-data ``deps``."""
        return frozenset(
            {*(i.asset_key for i in self.inputs if i.asset_key is not None), *self.deps}
        )

    def output_for_key(self, key: AssetKey) -> NodeOutput:
        """The output that materializes ``key``."""
        for output in self.outputs:
            if output.asset_key == key:
                return output
        raise KeyError(key)

    @property
    def group_names(self) -> dict[AssetKey, str]:
        """Group of each key."""
        return {o.asset_key: o.group_name for o in self.outputs if o.asset_key is not None}


def _check_option(value: Any, kind: type[_T], name: str, option: str, example: str) -> _T | None:
    if value is not None and not isinstance(value, kind):
        raise InvalidDefinitionError(
            f"Asset {name!r}: {option} must be a {kind.__name__}, got {value!r}; e.g. "
            f"{option}={example}."
        )
    return value


def _check_partitions_def(
    partitions_def: PartitionsDefinition | None, where: str
) -> PartitionsDefinition | None:
    if partitions_def is not None and not isinstance(partitions_def, PartitionsDefinition):
        raise InvalidDefinitionError(
            f"{where}: partitions_def must be a PartitionsDefinition such as "
            f"DailyPartitionsDefinition(start_date='2024-01-01'), got {partitions_def!r}."
        )
    return partitions_def


def _prefix_parts(prefix: KeyPrefix) -> list[str]:
    if prefix is None:
        return []
    return [prefix] if isinstance(prefix, str) else list(prefix)


def _coerce_deps(deps: Iterable[Any] | None) -> tuple[AssetKey, ...]:
    keys: list[AssetKey] = []
    for dep in deps or ():
        if isinstance(dep, AssetsDefinition):
            keys.extend(dep.keys)
        else:
            keys.append(AssetKey.from_coercible(dep))
    return tuple(keys)


def _asset_inputs(
    roles: ParameterRoles,
    ins: Mapping[str, AssetIn] | None,
    *,
    key_prefix: list[str],
    node_name: str,
    fn: Callable[..., Any],
) -> tuple[NodeInput, ...]:
    ins = dict(ins or {})
    check_ins_match_parameters(ins, roles, kind="Asset", node_name=node_name, fn=fn)
    inputs = []
    for param in roles.data_params:
        spec = ins.get(param)
        if spec is not None and spec.key is not None:
            key = spec.key
        else:
            # Like Dagster: an inferred upstream shares the asset's own key prefix unless the
            # AssetIn names one.
            prefix = _prefix_parts(spec.key_prefix) if spec is not None else key_prefix
            key = AssetKey([*prefix, param])
        inputs.append(
            NodeInput(
                name=param,
                asset_key=key,
                annotation=roles.annotations.get(param),
                metadata=spec.metadata if spec is not None else {},
                partition_mapping=spec.partition_mapping if spec is not None else None,
            )
        )
    return tuple(inputs)


@overload
def asset(fn: Callable[..., Any], /) -> AssetsDefinition: ...


@overload
def asset(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    key: CoercibleToAssetKey | None = None,
    key_prefix: KeyPrefix = None,
    group_name: str | None = None,
    deps: Iterable[Any] | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    metadata: Mapping[str, Any] | None = None,
    description: str | None = None,
    code_version: str | None = None,
    io_manager_key: str = DEFAULT_IO_MANAGER_KEY,
    retry_policy: RetryPolicy | None = None,
    ray_options: Mapping[str, Any] | None = None,
    pool: str | None = None,
    required_resource_keys: Iterable[str] = (),
    tags: Mapping[str, str] | None = None,
    partitions_def: PartitionsDefinition | None = None,
    backfill_policy: BackfillPolicy | None = None,
    freshness_policy: FreshnessPolicy | None = None,
    automation_condition: AutomationCondition | None = None,
    output_schema: Any = None,
    output_schema_extra: str = "forbid",
) -> Callable[[Callable[..., Any]], AssetsDefinition]: ...


def asset(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    key: CoercibleToAssetKey | None = None,
    key_prefix: KeyPrefix = None,
    group_name: str | None = None,
    deps: Iterable[Any] | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    metadata: Mapping[str, Any] | None = None,
    description: str | None = None,
    code_version: str | None = None,
    io_manager_key: str = DEFAULT_IO_MANAGER_KEY,
    retry_policy: RetryPolicy | None = None,
    ray_options: Mapping[str, Any] | None = None,
    pool: str | None = None,
    required_resource_keys: Iterable[str] = (),
    tags: Mapping[str, str] | None = None,
    partitions_def: PartitionsDefinition | None = None,
    backfill_policy: BackfillPolicy | None = None,
    freshness_policy: FreshnessPolicy | None = None,
    automation_condition: AutomationCondition | None = None,
    output_schema: Any = None,
    output_schema_extra: str = "forbid",
) -> AssetsDefinition | Callable[[Callable[..., Any]], AssetsDefinition]:
    """Declare a software-defined asset computed by the decorated function.

    Parameters name upstream assets (``def clean(raw_orders)`` depends on ``raw_orders``); a
    parameter named ``context`` receives the `AssetExecutionContext`, one annotated with a
    `Config` subclass receives validated run config, and one annotated with a
    `ConfigurableResource` receives the resource of that name. ``ray_options`` (num_cpus,
    num_gpus, memory, resources, scheduling_strategy) are applied by the Ray executor; ``pool``
    names a concurrency pool. ``partitions_def`` splits the asset into partitions (one step per
    partition, or per range with ``backfill_policy``). ``output_schema`` (a pyarrow schema, or a
    pydantic model describing one row) is checked against the returned table before anything is
    stored; a mismatch fails the step with a column-by-column diff. Extra columns fail the check
    unless ``output_schema_extra="allow"`` (see docs/output-schemas.md). ``freshness_policy``
    says how stale the asset may get before it is reported overdue, ``automation_condition``
    lets the daemon materialize it on its own (see docs/automation.md).

    Example:
        >>> @asset(group_name="sales", code_version="1")
        ... def clean_orders(raw_orders: list[dict]) -> list[dict]:
        ...     return [o for o in raw_orders if o["amount"] > 0]
        >>> clean_orders.key, [i.asset_key for i in clean_orders.inputs]
        (AssetKey('clean_orders'), [AssetKey('raw_orders')])
    """

    def decorate(func: Callable[..., Any]) -> AssetsDefinition:
        node_name = name or (AssetKey.from_coercible(key).name if key else func.__name__)
        validate_name(node_name, what="Asset name")
        prefix = _prefix_parts(key_prefix)
        for part in prefix:
            validate_name(part, what=f"key_prefix part of asset {node_name!r}")
        asset_key = (
            AssetKey.from_coercible(key) if key is not None else AssetKey([*prefix, node_name])
        )
        group = validate_name(group_name or "default", what=f"Group name of asset {node_name!r}")
        roles = analyse_parameters(func, node_name=node_name)
        output = NodeOutput(
            name="result",
            asset_key=asset_key,
            io_manager_key=validate_name(io_manager_key, what="io_manager_key"),
            metadata=dict(metadata or {}),
            description=description,
            code_version=code_version,
            group_name=group,
            annotation=roles.annotations.get("return"),
            output_schema=declare_output_schema(
                output_schema, where=f"Asset {node_name!r}", extra=output_schema_extra
            ),
        )
        return AssetsDefinition(
            name=node_name,
            fn=func,
            inputs=_asset_inputs(roles, ins, key_prefix=prefix, node_name=node_name, fn=func),
            outputs=(output,),
            roles=roles,
            deps=_coerce_deps(deps),
            required_resource_keys=frozenset(required_resource_keys),
            retry_policy=retry_policy,
            ray_options=ray_options,
            pool=pool,
            description=description,
            tags=tags,
            partitions_def=partitions_def,
            backfill_policy=backfill_policy,
            freshness_policy=freshness_policy,
            automation_condition=automation_condition,
        )

    return decorate(fn) if fn is not None else decorate


def multi_asset(
    *,
    outs: Mapping[str, AssetOut],
    name: str | None = None,
    group_name: str | None = None,
    deps: Iterable[Any] | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    description: str | None = None,
    retry_policy: RetryPolicy | None = None,
    ray_options: Mapping[str, Any] | None = None,
    pool: str | None = None,
    required_resource_keys: Iterable[str] = (),
    can_subset: bool = False,
    tags: Mapping[str, str] | None = None,
    partitions_def: PartitionsDefinition | None = None,
    backfill_policy: BackfillPolicy | None = None,
    freshness_policy: FreshnessPolicy | None = None,
    automation_condition: AutomationCondition | None = None,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """Declare one function that materializes several assets, one per entry of ``outs``.

    The function returns a tuple in the order of ``outs`` (or yields `Output`/
    `MaterializeResult` objects naming each output). Selecting one of its assets runs the whole
    function, since its outputs are computed together.

    Example:
        >>> @multi_asset(outs={"users": AssetOut(), "orders": AssetOut(key_prefix="raw")})
        ... def extract():
        ...     return [1], [2]
        >>> extract.keys
        (AssetKey('users'), AssetKey('raw/orders'))
    """
    if not outs:
        raise InvalidDefinitionError("multi_asset needs at least one entry in outs.")

    def decorate(func: Callable[..., Any]) -> AssetsDefinition:
        node_name = validate_name(name or func.__name__, what="multi_asset name")
        roles = analyse_parameters(func, node_name=node_name)
        outputs = []
        for out_name, out in outs.items():
            validate_name(out_name, what=f"Output name of multi_asset {node_name!r}")
            out_key = (
                AssetKey.from_coercible(out.key)
                if out.key is not None
                else AssetKey([*_prefix_parts(out.key_prefix), out_name])
            )
            outputs.append(
                NodeOutput(
                    name=out_name,
                    asset_key=out_key,
                    io_manager_key=out.io_manager_key,
                    metadata=dict(out.metadata),
                    description=out.description,
                    code_version=out.code_version,
                    group_name=validate_name(
                        out.group_name or group_name or "default", what="Group name"
                    ),
                    output_schema=declare_output_schema(
                        out.output_schema,
                        where=f"Output {out_name!r} of multi_asset {node_name!r}",
                        extra=out.output_schema_extra,
                    ),
                )
            )
        return AssetsDefinition(
            name=node_name,
            fn=func,
            inputs=_asset_inputs(roles, ins, key_prefix=[], node_name=node_name, fn=func),
            outputs=tuple(outputs),
            roles=roles,
            deps=_coerce_deps(deps),
            required_resource_keys=frozenset(required_resource_keys),
            retry_policy=retry_policy,
            ray_options=ray_options,
            pool=pool,
            description=description,
            tags=tags,
            can_subset=can_subset,
            partitions_def=partitions_def,
            backfill_policy=backfill_policy,
            freshness_policy=freshness_policy,
            automation_condition=automation_condition,
        )

    return decorate
