"""Run config, resources and environment-variable secrets (pydantic models, Dagster's names)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

from raystra.errors import InvalidDefinitionError, MissingResourceError

__all__ = ["Config", "ConfigurableResource", "EnvVar", "RunConfig"]


class Config(BaseModel):
    """Base for an asset's or op's run config, validated before the run starts.

    Declare a parameter annotated with a `Config` subclass and raystra fills it from the run
    config under ``ops.<asset or op name>.config``.

    Example:
        >>> class CleanConfig(Config):
        ...     min_amount: float = 0.0
        >>> CleanConfig(min_amount=5).min_amount
        5.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


class EnvVar(str):
    """A value read from an environment variable where the step runs, never earlier.

    Use it for secrets in resource fields — a ``str`` field, or a value anywhere inside a dict or
    list field such as an IO manager's ``storage_options``: the variable's name is what
    definitions, events and the database ever see; the value is resolved inside the step and
    redacted from its logs and errors.

    Example:
        >>> token = EnvVar("WAREHOUSE_TOKEN")
        >>> token.env_var_name
        'WAREHOUSE_TOKEN'
    """

    __slots__ = ()

    @property
    def env_var_name(self) -> str:
        """The name of the environment variable."""
        return str.__str__(self)

    def get_value(self, default: str | None = None) -> str | None:
        """The variable's current value in this process, or ``default``."""
        return os.environ.get(self.env_var_name, default)

    def __repr__(self) -> str:
        return f"EnvVar({self.env_var_name!r})"


_EnvPath = tuple[str | int, ...]


def _find_env_vars(value: Any) -> Iterator[tuple[_EnvPath, str]]:
    """(path inside ``value``, variable name) of every `EnvVar` in nested dicts and lists."""
    if isinstance(value, EnvVar):
        yield (), value.env_var_name
    elif isinstance(value, Mapping):
        for key, item in value.items():
            for inner, var in _find_env_vars(item):
                yield (key, *inner), var
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            for inner, var in _find_env_vars(item):
                yield (index, *inner), var


def _replaced(container: Any, path: _EnvPath, value: str) -> Any:
    """A copy of ``container`` with the item at ``path`` set to ``value`` (the path's
    containers copied, the original left untouched)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(container, Mapping):
        return {**container, head: _replaced(container[head], rest, value)}
    assert isinstance(head, int)  # `_find_env_vars` indexes lists and tuples by position
    items = list(container)
    items[head] = _replaced(items[head], rest, value)
    return type(container)(items)


def _label(path: _EnvPath) -> str:
    return ".".join(str(part) for part in path)


class ConfigurableResource(BaseModel):
    """Base for resources: typed, validated objects handed to the assets that name them.

    An asset receives a resource through a parameter whose name is the resource key and whose
    annotation is the resource class. String fields, and values nested in dict or list fields,
    may be given as `EnvVar`; they are resolved only when the step runs (see `resolved`).

    Example:
        >>> class Warehouse(ConfigurableResource):
        ...     url: str
        ...     token: str
        ...     options: dict[str, Any] = {}
        >>> wh = Warehouse(
        ...     url="https://dw.example",
        ...     token=EnvVar("DW_TOKEN"),
        ...     options={"auth": {"password": EnvVar("DW_PASSWORD")}},
        ... )
        >>> wh.token
        'DW_TOKEN'
        >>> wh.env_var_fields
        {'token': 'DW_TOKEN', 'options.auth.password': 'DW_PASSWORD'}
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    # Where each EnvVar was given: (field, key or index, ...) -> variable name.
    _env_paths: dict[_EnvPath, str] = PrivateAttr(default_factory=dict)
    # Fields holding resources, found once: `resolved` runs for every step.
    _nested_fields: tuple[str, ...] = PrivateAttr(default=())

    def __init__(self, **data: Any) -> None:
        env_paths = {
            (name, *inner): var
            for name, value in data.items()
            for inner, var in _find_env_vars(value)
        }
        for path, var in env_paths.items():
            field = type(self).model_fields.get(str(path[0]))
            if len(path) == 1 and field is not None and field.annotation not in (str, str | None):
                raise InvalidDefinitionError(
                    f"{type(self).__name__}.{path[0]} is given EnvVar({var!r}) but is "
                    f"annotated {field.annotation!r}; EnvVar works for str fields: declare the "
                    "field as str and convert it where it is used."
                )
        super().__init__(**data)
        # Recorded before validation: a `dict[str, str]` field turns an EnvVar into a plain str.
        self._env_paths = env_paths
        self._nested_fields = tuple(
            name
            for name in type(self).model_fields
            if isinstance(getattr(self, name), ConfigurableResource)
        )

    @property
    def env_var_fields(self) -> Mapping[str, str]:
        """Field -> environment variable name for values given as `EnvVar`.

        A value inside a dict or list field is named by its path, e.g.
        ``storage_options.client_kwargs.aws_session_token``.
        """
        return {_label(path): var for path, var in self._env_paths.items()}

    def resolved(self, *, resource_key: str = "") -> tuple[ConfigurableResource, tuple[str, ...]]:
        """Return a copy with `EnvVar` values replaced by their values, and the secret values.

        Called where the step runs. A variable that is not set raises `MissingResourceError`
        naming the resource, field and variable — never a value. Dicts and lists holding an
        `EnvVar` are copied, so the definitions keep only variable names.
        """
        updates: dict[str, Any] = {}
        secrets: list[str] = []
        label = resource_key or type(self).__name__
        for path, var_name in self._env_paths.items():
            value = os.environ.get(var_name)
            if value is None:
                raise MissingResourceError(
                    f"Resource {label!r} field {_label(path)!r} reads environment variable "
                    f"{var_name!r}, which is not set where the step runs. Export it on every "
                    "machine that runs steps (for a Ray cluster: on the worker nodes)."
                )
            field_name = str(path[0])
            current = updates.get(field_name, getattr(self, field_name))
            updates[field_name] = _replaced(current, path[1:], value)
            secrets.append(value)
        for field_name in self._nested_fields:
            nested = getattr(self, field_name)
            resolved_nested, nested_secrets = nested.resolved(resource_key=f"{label}.{field_name}")
            if resolved_nested is not nested:
                updates[field_name] = resolved_nested
            secrets.extend(nested_secrets)
        if not updates:
            return self, ()
        copy = self.model_copy(update=updates)
        copy._env_paths = {}
        return copy, tuple(secrets)

    def setup_for_execution(self) -> None:
        """Hook run once per step before the resource is handed to user code."""

    def teardown_after_execution(self) -> None:
        """Hook run once per step after user code finished, even if it failed."""


class RunConfig(BaseModel):
    """Run config in Dagster's shape: ``ops`` maps an asset or op name to its config.

    Example:
        >>> class CleanConfig(Config):
        ...     min_amount: float = 0.0
        >>> RunConfig(ops={"clean_sales": CleanConfig(min_amount=1)}).to_dict()
        {'ops': {'clean_sales': {'config': {'min_amount': 1.0}}}}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    ops: dict[str, Any] = {}

    def to_dict(self) -> dict[str, Any]:
        """The plain-dict form stored with the run."""
        ops: dict[str, Any] = {}
        for name, value in self.ops.items():
            if isinstance(value, Config):
                ops[name] = {"config": value.model_dump(mode="json")}
            else:
                ops[name] = value
        return {"ops": ops}
