"""Task-style building blocks: ``@op`` and ``@job`` composing ops into an explicit graph."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from raystra.definitions._keys import AssetKey, CoercibleToAssetKey, validate_name
from raystra.definitions._node import (
    DEFAULT_IO_MANAGER_KEY,
    NodeDefinition,
    NodeInput,
    NodeOutput,
    analyse_parameters,
    check_ins_match_parameters,
    describe_function,
)
from raystra.definitions._retry import RetryPolicy
from raystra.errors import InvalidDefinitionError

__all__ = ["In", "JobDefinition", "JobNode", "OpDefinition", "Out", "OutputHandle", "job", "op"]


@dataclass(frozen=True, init=False)
class In:
    """An op input; with ``asset_key`` it is loaded from that asset's stored value.

    Example:
        >>> In(asset_key="sales_by_customer").asset_key
        AssetKey('sales_by_customer')
    """

    asset_key: AssetKey | None
    metadata: Mapping[str, Any]
    description: str | None

    def __init__(
        self,
        *,
        asset_key: CoercibleToAssetKey | None = None,
        metadata: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        key = AssetKey.from_coercible(asset_key) if asset_key is not None else None
        object.__setattr__(self, "asset_key", key)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "description", description)


@dataclass(frozen=True, kw_only=True)
class Out:
    """An op output, stored through ``io_manager_key`` so runs can be re-executed.

    Example:
        >>> Out(io_manager_key="io_manager").io_manager_key
        'io_manager'
    """

    io_manager_key: str = DEFAULT_IO_MANAGER_KEY
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True)
class OutputHandle:
    """What calling an op inside a ``@job`` body returns: a reference to one of its outputs."""

    node_name: str
    output_name: str


@dataclass(frozen=True)
class JobNode:
    """One invocation of an op in a job, with where each of its inputs comes from."""

    name: str
    op: OpDefinition
    upstream: Mapping[str, OutputHandle] = field(default_factory=dict)


class _Composition:
    """Records op invocations while a ``@job`` body runs."""

    def __init__(self, job_name: str) -> None:
        self.job_name = job_name
        self.nodes: list[JobNode] = []
        self._names: set[str] = set()

    def unique_name(self, base: str) -> str:
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name


_composing: contextvars.ContextVar[_Composition | None] = contextvars.ContextVar(
    "raystra_job_composition", default=None
)


class OpDefinition(NodeDefinition):
    """A task-style compute function; compose ops into a graph with ``@job``.

    Outside a ``@job`` body, calling the op calls the function (handy in unit tests).

    Example:
        >>> @op
        ... def add_one(x: int) -> int:
        ...     return x + 1
        >>> add_one(1)
        2
    """

    kind = "op"

    def alias(self, name: str) -> _AliasedOp:
        """Use this op under another node name inside a job (to call it twice)."""
        return _AliasedOp(self, validate_name(name, what="Op alias"))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        composition = _composing.get()
        if composition is None:
            return self.fn(*args, **kwargs)
        return self._invoke(composition, self.name, args, kwargs)

    def _invoke(
        self,
        composition: _Composition,
        base_name: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> Any:
        node_name = composition.unique_name(base_name)
        params = [i.name for i in self.inputs]
        if len(args) > len(params):
            raise InvalidDefinitionError(
                f"Job {composition.job_name!r}: op {self.name!r} takes inputs {params} but was "
                f"called with {len(args)} positional arguments."
            )
        upstream: dict[str, OutputHandle] = {}
        for input_name, value in [*zip(params, args, strict=False), *kwargs.items()]:
            if input_name not in params:
                raise InvalidDefinitionError(
                    f"Job {composition.job_name!r}: op {self.name!r} has no input "
                    f"{input_name!r}; its inputs are {params}."
                )
            if not isinstance(value, OutputHandle):
                raise InvalidDefinitionError(
                    f"Job {composition.job_name!r}: input {input_name!r} of op {self.name!r} "
                    f"got {type(value).__name__} {value!r}; inside a job, pass the outputs of "
                    "other ops. Constant values belong in the op's Config."
                )
            upstream[input_name] = value
        composition.nodes.append(JobNode(name=node_name, op=self, upstream=upstream))
        handles = tuple(OutputHandle(node_name, output.name) for output in self.outputs)
        return handles[0] if len(handles) == 1 else handles


@dataclass(frozen=True)
class _AliasedOp:
    op: OpDefinition
    name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        composition = _composing.get()
        if composition is None:
            return self.op.fn(*args, **kwargs)
        return self.op._invoke(composition, self.name, args, kwargs)


@overload
def op(fn: Callable[..., Any], /) -> OpDefinition: ...


@overload
def op(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    retry_policy: RetryPolicy | None = None,
    ray_options: Mapping[str, Any] | None = None,
    pool: str | None = None,
    required_resource_keys: Iterable[str] = (),
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], OpDefinition]: ...


def op(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    retry_policy: RetryPolicy | None = None,
    ray_options: Mapping[str, Any] | None = None,
    pool: str | None = None,
    required_resource_keys: Iterable[str] = (),
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> OpDefinition | Callable[[Callable[..., Any]], OpDefinition]:
    """Declare an op: a compute function wired to other ops explicitly in a ``@job``.

    Data parameters become inputs (wired in the job body, or loaded from an asset with
    ``In(asset_key=...)``); ``out`` is one `Out` or a dict of named outputs, in which case the
    function returns a tuple in that order. Context, `Config` and resource parameters work as
    for assets.

    Example:
        >>> @op(out={"train": Out(), "test": Out()})
        ... def split(rows: list[int]) -> tuple[list[int], list[int]]:
        ...     return rows[:-1], rows[-1:]
        >>> [o.name for o in split.outputs]
        ['train', 'test']
    """

    def decorate(func: Callable[..., Any]) -> OpDefinition:
        node_name = validate_name(name or func.__name__, what="Op name")
        roles = analyse_parameters(func, node_name=node_name)
        op_ins = dict(ins or {})
        check_ins_match_parameters(op_ins, roles, kind="Op", node_name=node_name, fn=func)
        inputs = tuple(
            NodeInput(
                name=param,
                asset_key=op_ins[param].asset_key if param in op_ins else None,
                annotation=roles.annotations.get(param),
                metadata=op_ins[param].metadata if param in op_ins else {},
            )
            for param in roles.data_params
        )
        outs = {"result": out or Out()} if not isinstance(out, Mapping) else dict(out)
        outputs = tuple(
            NodeOutput(
                name=validate_name(out_name, what=f"Output name of op {node_name!r}"),
                io_manager_key=spec.io_manager_key,
                metadata=dict(spec.metadata),
                description=spec.description,
                annotation=roles.annotations.get("return") if len(outs) == 1 else None,
            )
            for out_name, spec in outs.items()
        )
        return OpDefinition(
            name=node_name,
            fn=func,
            inputs=inputs,
            outputs=outputs,
            roles=roles,
            required_resource_keys=frozenset(required_resource_keys),
            retry_policy=retry_policy,
            ray_options=ray_options,
            pool=pool,
            description=description,
            tags=tags,
        )

    return decorate(fn) if fn is not None else decorate


class JobDefinition:
    """A named graph of op invocations, built by running a ``@job`` body once.

    Example:
        >>> @op
        ... def numbers() -> list[int]:
        ...     return [1, 2]
        >>> @op
        ... def total(values: list[int]) -> int:
        ...     return sum(values)
        >>> @job
        ... def sum_job():
        ...     total(numbers())
        >>> [node.name for node in sum_job.nodes]
        ['numbers', 'total']
    """

    def __init__(
        self,
        *,
        name: str,
        nodes: tuple[JobNode, ...],
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.name = validate_name(name, what="Job name")
        self.nodes = nodes
        self.description = description
        self.tags = dict(tags or {})
        self._by_name = {node.name: node for node in nodes}
        for node in nodes:
            for op_input in node.op.inputs:
                if op_input.name not in node.upstream and op_input.asset_key is None:
                    raise InvalidDefinitionError(
                        f"Job {name!r}: input {op_input.name!r} of op {node.name!r} is not "
                        "connected. Pass another op's output to it in the job body, or give it "
                        "In(asset_key=...) to load a stored asset."
                    )

    def node(self, name: str) -> JobNode:
        """The node called ``name``."""
        return self._by_name[name]

    @property
    def node_names(self) -> tuple[str, ...]:
        """Node names in the order the job body invoked them (a topological order)."""
        return tuple(node.name for node in self.nodes)

    @property
    def required_resource_keys(self) -> frozenset[str]:
        """Resource keys any of the job's ops needs."""
        return frozenset().union(*(node.op.required_resource_keys for node in self.nodes))

    def __repr__(self) -> str:
        return f"<JobDefinition {self.name!r} ({len(self.nodes)} ops)>"


def job(
    fn: Callable[[], Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Any:
    """Compose ops into a job by calling them in the decorated function's body.

    The body runs once, at decoration time, to record the graph; no op runs then.

    Example:
        >>> @op
        ... def extract() -> list[int]:
        ...     return [1, 2, 3]
        >>> @op
        ... def load(rows: list[int]) -> None:
        ...     pass
        >>> @job
        ... def etl():
        ...     load(extract())
        >>> etl.node_names
        ('extract', 'load')
    """

    def decorate(body: Callable[[], Any]) -> JobDefinition:
        job_name = validate_name(name or body.__name__, what="Job name")
        composition = _Composition(job_name)
        token = _composing.set(composition)
        try:
            body()
        finally:
            _composing.reset(token)
        if not composition.nodes:
            raise InvalidDefinitionError(
                f"Job {job_name!r} ({describe_function(body)}) invokes no ops; call at least "
                "one op in its body."
            )
        return JobDefinition(
            name=job_name,
            nodes=tuple(composition.nodes),
            description=description or body.__doc__,
            tags=tags,
        )

    return decorate(fn) if fn is not None else decorate
