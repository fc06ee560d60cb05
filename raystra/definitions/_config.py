"""Run config, resources and environment-variable secrets (pydantic models, Dagster's names)."""

from __future__ import annotations

import os
from collections.abc import Mapping
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

    Use it for secrets in resource fields: the variable's name is what definitions, events and
    the database ever see; the value is resolved inside the step and redacted from its logs.

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


class ConfigurableResource(BaseModel):
    """Base for resources: typed, validated objects handed to the assets that name them.

    An asset receives a resource through a parameter whose name is the resource key and whose
    annotation is the resource class. String fields may be given as `EnvVar`; they are resolved
    only when the step runs (see `resolved`).

    Example:
        >>> class Warehouse(ConfigurableResource):
        ...     url: str
        ...     token: str
        >>> wh = Warehouse(url="https://dw.example", token=EnvVar("DW_TOKEN"))
        >>> wh.token
        'DW_TOKEN'
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    _env_vars: dict[str, str] = PrivateAttr(default_factory=dict)
    # Fields holding resources, found once: `resolved` runs for every step.
    _nested_fields: tuple[str, ...] = PrivateAttr(default=())

    def __init__(self, **data: Any) -> None:
        env_fields = {name: value for name, value in data.items() if isinstance(value, EnvVar)}
        for name in env_fields:
            field = type(self).model_fields.get(name)
            if field is not None and field.annotation not in (str, str | None):
                raise InvalidDefinitionError(
                    f"{type(self).__name__}.{name} is given EnvVar({env_fields[name]!r}) but is "
                    f"annotated {field.annotation!r}; EnvVar works for str fields: declare the "
                    "field as str and convert it where it is used."
                )
        super().__init__(**data)
        self._env_vars = {name: value.env_var_name for name, value in env_fields.items()}
        self._nested_fields = tuple(
            name
            for name in type(self).model_fields
            if isinstance(getattr(self, name), ConfigurableResource)
        )

    @property
    def env_var_fields(self) -> Mapping[str, str]:
        """Field name -> environment variable name, for fields given as `EnvVar`."""
        return dict(self._env_vars)

    def resolved(self, *, resource_key: str = "") -> tuple[ConfigurableResource, tuple[str, ...]]:
        """Return a copy with `EnvVar` fields replaced by their values, and the secret values.

        Called where the step runs. A variable that is not set raises `MissingResourceError`
        naming the resource, field and variable — never a value.
        """
        updates: dict[str, Any] = {}
        secrets: list[str] = []
        label = resource_key or type(self).__name__
        for field_name, var_name in self._env_vars.items():
            value = os.environ.get(var_name)
            if value is None:
                raise MissingResourceError(
                    f"Resource {label!r} field {field_name!r} reads environment variable "
                    f"{var_name!r}, which is not set where the step runs. Export it on every "
                    "machine that runs steps (for a Ray cluster: on the worker nodes)."
                )
            updates[field_name] = value
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
        copy._env_vars = {}
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
