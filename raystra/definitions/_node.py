"""What assets and ops share: a compute function, its inputs and outputs, and how it runs.

`NodeDefinition` is the common base of `AssetsDefinition` and `OpDefinition`; the planner and the
step runner only talk to this shape.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions._config import Config, ConfigurableResource
from raystra.definitions._context import AssetExecutionContext
from raystra.definitions._keys import AssetKey, validate_name
from raystra.definitions._output_schema import DeclaredSchema
from raystra.definitions._retry import RetryPolicy
from raystra.errors import InvalidDefinitionError

__all__ = ["RAY_OPTION_KEYS", "NodeDefinition", "NodeInput", "NodeOutput", "ParameterRoles"]

DEFAULT_IO_MANAGER_KEY = "io_manager"

# Options an asset may pass to its Ray task. Anything else is refused at definition time, so a
# typo fails when the module loads, not hours into a backfill.
RAY_OPTION_KEYS = frozenset(
    {
        "num_cpus",
        "num_gpus",
        "memory",
        "resources",
        "scheduling_strategy",
        "accelerator_type",
        "max_retries",
        "label_selector",
    }
)


@dataclass(frozen=True)
class NodeInput:
    """A data input of a node: the parameter it fills and, for assets, the upstream key."""

    name: str
    asset_key: AssetKey | None = None
    annotation: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    partition_mapping: Any = None  # a PartitionMapping, for asset inputs that set one


@dataclass(frozen=True)
class NodeOutput:
    """An output of a node; asset outputs carry their key and per-asset attributes."""

    name: str
    asset_key: AssetKey | None = None
    io_manager_key: str = DEFAULT_IO_MANAGER_KEY
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    code_version: str | None = None
    group_name: str = "default"
    annotation: Any = None
    output_schema: DeclaredSchema | None = None  # checked against the value before storing


@dataclass(frozen=True)
class ParameterRoles:
    """How each parameter of a compute function is filled at run time."""

    context_param: str | None
    config_param: str | None
    config_type: type[Config] | None
    resource_params: tuple[str, ...]
    data_params: tuple[str, ...]
    annotations: Mapping[str, Any]
    unresolved: Mapping[str, str] = field(default_factory=dict)


def describe_function(fn: Callable[..., Any]) -> str:
    """``module.qualname (file:line)``: where a definition came from, for error messages."""
    code = getattr(fn, "__code__", None)
    where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}{where}"


def _resolve_annotation(fn: Callable[..., Any], annotation: Any) -> Any:
    """Resolve one annotation, tolerating string annotations that cannot be evaluated.

    Users often write ``from __future__ import annotations`` and import pandas only under
    TYPE_CHECKING; one unresolvable name must not break the whole function.
    """
    if annotation is inspect.Parameter.empty:
        return None
    if not isinstance(annotation, str):
        return annotation
    namespace = dict(getattr(sys.modules.get(fn.__module__), "__dict__", {}))
    namespace.update(getattr(fn, "__globals__", {}))
    try:
        return eval(annotation, namespace)  # annotations are code the user wrote
    except Exception:
        return annotation


def _is_subclass(annotation: Any, base: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, base)


def analyse_parameters(fn: Callable[..., Any], *, node_name: str) -> ParameterRoles:
    """Sort a compute function's parameters into context, config, resources and data inputs."""
    context_param = config_param = None
    config_type: type[Config] | None = None
    resource_params: list[str] = []
    data_params: list[str] = []
    annotations: dict[str, Any] = {}
    unresolved: dict[str, str] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidDefinitionError(
                f"{node_name!r} ({describe_function(fn)}) takes *{param.name}; raystra needs one "
                "named parameter per input so it can wire dependencies. List them explicitly."
            )
        annotation = _resolve_annotation(fn, param.annotation)
        annotations[param.name] = annotation
        if isinstance(annotation, str):
            unresolved[param.name] = annotation
        if param.name == "context" or _is_subclass(annotation, AssetExecutionContext):
            context_param = param.name
        elif _is_subclass(annotation, Config):
            if config_param is not None:
                raise InvalidDefinitionError(
                    f"{node_name!r} has two Config parameters ({config_param!r} and "
                    f"{param.name!r}); merge them into one Config class."
                )
            config_param, config_type = param.name, annotation
        elif _is_subclass(annotation, ConfigurableResource):
            resource_params.append(param.name)
        elif param.name == "config" and param.name in unresolved:
            raise InvalidDefinitionError(
                f"{node_name!r} ({describe_function(fn)}): the annotation {annotation!r} of "
                "parameter 'config' could not be resolved, so raystra cannot tell it is a Config "
                "class. Define the class at module level (string annotations from `from "
                "__future__ import annotations` are resolved in the module's globals)."
            )
        else:
            data_params.append(param.name)
    return ParameterRoles(
        context_param=context_param,
        config_param=config_param,
        config_type=config_type,
        resource_params=tuple(resource_params),
        data_params=tuple(data_params),
        annotations=annotations,
        unresolved=unresolved,
    )


def check_ins_match_parameters(
    ins: Mapping[str, Any],
    roles: ParameterRoles,
    *,
    kind: str,
    node_name: str,
    fn: Callable[..., Any],
) -> None:
    """Every ``ins`` entry must name a data parameter of the function."""
    unknown = sorted(set(ins) - set(roles.data_params))
    if unknown:
        raise InvalidDefinitionError(
            f"{kind} {node_name!r} ({describe_function(fn)}) has ins entries {unknown} with no "
            f"matching parameter; its data parameters are {list(roles.data_params)}."
        )


def validate_ray_options(options: Mapping[str, Any] | None, *, node_name: str) -> dict[str, Any]:
    """Check ``ray_options`` keys and values once, where the definition is made."""
    options = dict(options or {})
    unknown = sorted(set(options) - RAY_OPTION_KEYS)
    if unknown:
        raise InvalidDefinitionError(
            f"{node_name!r} has unknown ray_options {unknown}; allowed keys are "
            f"{sorted(RAY_OPTION_KEYS)}."
        )
    for numeric in ("num_cpus", "num_gpus", "memory"):
        value = options.get(numeric)
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise InvalidDefinitionError(
                f"{node_name!r}: ray_options[{numeric!r}] must be a non-negative number, "
                f"got {value!r}."
            )
    resources = options.get("resources")
    if resources is not None and not (
        isinstance(resources, Mapping)
        and all(isinstance(v, int | float) and v >= 0 for v in resources.values())
    ):
        raise InvalidDefinitionError(
            f"{node_name!r}: ray_options['resources'] must map resource names to non-negative "
            f"amounts, e.g. {{'warehouse_slot': 1}}; got {resources!r}."
        )
    return options


class NodeDefinition:
    """A compute function plus everything raystra needs to run it as one step.

    Subclasses: `AssetsDefinition` (produces assets) and `OpDefinition` (task-style, in jobs).
    Calling the definition calls the wrapped function directly, so it stays unit-testable.
    """

    kind: str = "node"

    def __init__(
        self,
        *,
        name: str,
        fn: Callable[..., Any],
        inputs: tuple[NodeInput, ...],
        outputs: tuple[NodeOutput, ...],
        roles: ParameterRoles,
        required_resource_keys: frozenset[str] = frozenset(),
        retry_policy: RetryPolicy | None = None,
        ray_options: Mapping[str, Any] | None = None,
        pool: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.name = validate_name(name, what=f"{self.kind.capitalize()} name")
        self.fn = fn
        self.inputs = inputs
        self.outputs = outputs
        self.roles = roles
        self.retry_policy = retry_policy
        self.ray_options = validate_ray_options(ray_options, node_name=name)
        self.pool = validate_name(pool, what="Pool name") if pool is not None else None
        self.description = description if description is not None else inspect.getdoc(fn)
        self.tags = dict(tags or {})
        io_keys = {output.io_manager_key for output in outputs}
        self.required_resource_keys = frozenset(
            {*required_resource_keys, *roles.resource_params, *io_keys}
        )
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)
        self.__module__ = getattr(fn, "__module__", __name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function with plain arguments (for unit tests)."""
        return self.fn(*args, **kwargs)

    @property
    def source(self) -> str:
        """Where the function is defined, for error messages."""
        return describe_function(self.fn)

    def output(self, name: str) -> NodeOutput:
        """The output called ``name``."""
        for output in self.outputs:
            if output.name == name:
                return output
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
