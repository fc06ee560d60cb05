"""Asset checks: ``@asset_check`` functions and the `AssetCheckResult` they return.

Checks are given to ``Definitions(asset_checks=[...])``; each runs as its own step after its
asset's step (once per partition step), and a failed blocking check skips the asset's
downstream steps (see ``raystra.planning``).

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

import difflib
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raystra.definitions._keys import AssetKey, CoercibleToAssetKey, validate_name
from raystra.definitions._node import analyse_parameters, describe_function
from raystra.errors import DuplicateKeyError, InvalidDefinitionError, UnknownAssetError

if TYPE_CHECKING:
    from raystra.definitions._definitions import Definitions

__all__ = [
    "AssetCheckDefinition",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "asset_check",
    "index_asset_checks",
]


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

    Example:
        >>> @asset_check(asset="orders", blocking=True)
        ... def positive(orders: list[int]) -> bool:
        ...     return all(n > 0 for n in orders)
        >>> isinstance(positive, AssetCheckDefinition), positive.blocking, positive([1, 2])
        (True, True, True)
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
        resource_params: tuple[str, ...] = (),
    ) -> None:
        self.fn = fn
        self.name = name
        self.asset_key = asset_key
        self.blocking = blocking
        self.description = description
        self.value_param = value_param
        self.context_param = context_param
        self.annotations = dict(annotations)
        self.resource_params = resource_params
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function with plain arguments (for unit tests)."""
        return self.fn(*args, **kwargs)

    @property
    def check_key(self) -> str:
        """``asset:check``, how the check is named in selections, events and the CLI."""
        return f"{self.asset_key.to_user_string()}:{self.name}"

    @property
    def required_resource_keys(self) -> frozenset[str]:
        """Resources the check function takes as parameters (ConfigurableResource ones)."""
        return frozenset(self.resource_params)

    @property
    def value_type(self) -> Any:
        """The annotation of the value parameter (what the IO manager should load), or None."""
        if self.value_param is None:
            return None
        annotation = self.annotations.get(self.value_param)
        # An annotation that did not resolve (a string), or Any, cannot steer the IO manager.
        return None if isinstance(annotation, str) or annotation is Any else annotation

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
            resource_params=tuple(roles.resource_params),
        )

    return decorate


def index_asset_checks(
    checks: Iterable[AssetCheckDefinition], defs: Definitions
) -> dict[AssetKey, tuple[AssetCheckDefinition, ...]]:
    """Checks by the asset they check, validated against ``defs``.

    Each check must name a materializable asset of ``defs`` and be the only check of that
    asset with its name; a check's resources must be provided.
    """
    found: dict[AssetKey, list[AssetCheckDefinition]] = {}
    known = [key.to_user_string() for key in defs.topological_keys]
    for check in checks:
        if not isinstance(check, AssetCheckDefinition):
            raise InvalidDefinitionError(
                f"Definitions(asset_checks=...) got {type(check).__name__} {check!r}; pass "
                "functions decorated with @asset_check (or built-in checks such as "
                "raystra.row_count_check(...))."
            )
        label = check.asset_key.to_user_string()
        if not defs.has_asset(check.asset_key):
            close = difflib.get_close_matches(label, known, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownAssetError(
                f"Asset check {check.name!r} checks asset {label!r}, which is not defined."
                f"{hint} Add the asset to Definitions(assets=...) or fix "
                "asset_check(asset=...)."
            )
        if check.asset_key in defs.asset_graph.external:
            raise InvalidDefinitionError(
                f"Asset check {check.name!r} checks {label!r}, an external AssetSpec raystra "
                "never materializes, so the check would never run. Check a materializable asset."
            )
        siblings = found.setdefault(check.asset_key, [])
        if any(other.name == check.name for other in siblings):
            raise DuplicateKeyError(
                f"Asset {label!r} has two checks named {check.name!r}; check names are unique "
                "per asset. Rename one with asset_check(name=...)."
            )
        missing = sorted(check.required_resource_keys - set(defs.resources))
        if missing:
            raise InvalidDefinitionError(
                f"Asset check {check.check_key!r} needs resource {missing[0]!r}, which "
                f"Definitions(resources=...) does not provide. Add resources={{{missing[0]!r}: "
                "...}}."
            )
        siblings.append(check)
    return {key: tuple(items) for key, items in found.items()}
