"""Asset checks: ``@asset_check`` functions and the `AssetCheckResult` they return.

Not wired into planning or execution yet (issue 9, point 3 is in progress): this module holds
the definition side only, so it is not exported from ``raystra`` until checks run.

Example:
    >>> @asset_check(asset="orders", blocking=True)
    ... def orders_not_empty(orders: list[int]) -> AssetCheckResult:
    ...     return AssetCheckResult(passed=bool(orders), metadata={"rows": len(orders)})
    >>> orders_not_empty.asset_key, orders_not_empty.name, orders_not_empty.blocking
    (AssetKey('orders'), 'orders_not_empty', True)
    >>> orders_not_empty([1, 2]).passed
    True
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions._keys import AssetKey, CoercibleToAssetKey, validate_name
from raystra.definitions._node import analyse_parameters, describe_function
from raystra.errors import InvalidDefinitionError

__all__ = ["AssetCheckDefinition", "AssetCheckResult", "AssetCheckSeverity", "asset_check"]


class AssetCheckSeverity(enum.StrEnum):
    """How bad a failed check is: ERROR (a blocking check stops downstream) or WARN."""

    ERROR = "ERROR"
    WARN = "WARN"


@dataclass(frozen=True, kw_only=True)
class AssetCheckResult:
    """The outcome of one check of one asset (partition).

    Example:
        >>> AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN).severity
        <AssetCheckSeverity.WARN: 'WARN'>
    """

    passed: bool
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    check_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.passed, bool):
            raise InvalidDefinitionError(
                f"AssetCheckResult(passed=...) must be True or False, got {self.passed!r}; "
                "convert it with bool(...)."
            )
        try:
            object.__setattr__(self, "severity", AssetCheckSeverity(self.severity))
        except ValueError:
            raise InvalidDefinitionError(
                f"AssetCheckResult(severity=...) must be AssetCheckSeverity.ERROR or .WARN, got "
                f"{self.severity!r}."
            ) from None
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def blocks(self) -> bool:
        """True when this result stops downstream steps if its check is blocking."""
        return not self.passed and self.severity is AssetCheckSeverity.ERROR


class AssetCheckDefinition:
    """A check of one asset, made by `asset_check`; calling it calls the function.

    ``value_param`` is the parameter receiving the asset's value; ``context_param`` (if any)
    receives the execution context.
    """

    def __init__(
        self,
        *,
        fn: Callable[..., Any],
        name: str,
        asset_key: AssetKey,
        blocking: bool,
        description: str | None,
        value_param: str | None,
        context_param: str | None,
        annotations: Mapping[str, Any],
    ) -> None:
        self.fn = fn
        self.name = name
        self.asset_key = asset_key
        self.blocking = blocking
        self.description = description
        self.value_param = value_param
        self.context_param = context_param
        self.annotations = dict(annotations)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function with plain arguments (for unit tests)."""
        return self.fn(*args, **kwargs)

    @property
    def check_key(self) -> str:
        """``asset:check``, how the check is named in selections, events and the CLI."""
        return f"{self.asset_key.to_user_string()}:{self.name}"

    def __repr__(self) -> str:
        return f"<AssetCheckDefinition {self.check_key!r}>"


def asset_check(
    *,
    asset: CoercibleToAssetKey | Any,
    name: str | None = None,
    blocking: bool = False,
    description: str | None = None,
) -> Callable[[Callable[..., Any]], AssetCheckDefinition]:
    """Declare a check of ``asset`` (a key or an ``@asset`` definition).

    The function takes the asset's value in one parameter (named like the asset, or the only
    data parameter), optionally ``context``, and returns an `AssetCheckResult`. With
    ``blocking=True`` a failed ERROR result is meant to stop the asset's downstream steps.

    Example:
        >>> @asset_check(asset="orders")
        ... def has_rows(orders: list[int]) -> AssetCheckResult:
        ...     return AssetCheckResult(passed=len(orders) > 0)
        >>> has_rows.check_key
        'orders:has_rows'
    """
    keys = getattr(asset, "keys", None)
    if keys is not None and not isinstance(asset, str):
        if len(keys) != 1:
            raise InvalidDefinitionError(
                f"asset_check(asset=...) got {asset!r}, which materializes {len(keys)} assets; "
                "name one of them with asset='key'."
            )
        asset_key = keys[0]
    else:
        asset_key = AssetKey.from_coercible(asset)
    if not isinstance(blocking, bool):
        raise InvalidDefinitionError(f"asset_check(blocking=...) must be a bool, got {blocking!r}.")

    def decorate(fn: Callable[..., Any]) -> AssetCheckDefinition:
        check_name = validate_name(name or fn.__name__, what="Asset check name")
        roles = analyse_parameters(fn, node_name=check_name)
        data = list(roles.data_params)
        if len(data) > 1:
            raise InvalidDefinitionError(
                f"Asset check {check_name!r} ({describe_function(fn)}) takes {data}; a check "
                f"receives one value, the asset {asset_key.to_user_string()!r}. Keep one data "
                "parameter (and optionally `context`)."
            )
        return AssetCheckDefinition(
            fn=fn,
            name=check_name,
            asset_key=asset_key,
            blocking=blocking,
            description=description if description is not None else fn.__doc__,
            value_param=data[0] if data else None,
            context_param=roles.context_param,
            annotations=roles.annotations,
        )

    return decorate
