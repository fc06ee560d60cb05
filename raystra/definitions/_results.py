"""Values a step function may return instead of a bare value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raystra.definitions._keys import AssetKey, CoercibleToAssetKey

__all__ = ["MaterializeResult", "Output"]

_NO_VALUE: Any = object()


@dataclass(frozen=True, init=False)
class MaterializeResult:
    """Report a materialization with metadata, optionally with a value for the IO manager.

    Without ``value`` the asset is assumed to have written its data itself (e.g. a PDF report),
    so the IO manager is not called; the metadata is recorded with the materialization.

    Example:
        >>> MaterializeResult(metadata={"pages": 2}).has_value
        False
        >>> MaterializeResult(value=[1, 2], metadata={"rows": 2}).has_value
        True
    """

    asset_key: AssetKey | None
    metadata: Mapping[str, Any]
    value: Any

    def __init__(
        self,
        *,
        asset_key: CoercibleToAssetKey | None = None,
        metadata: Mapping[str, Any] | None = None,
        value: Any = _NO_VALUE,
    ) -> None:
        key = AssetKey.from_coercible(asset_key) if asset_key is not None else None
        object.__setattr__(self, "asset_key", key)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "value", value)

    @property
    def has_value(self) -> bool:
        """True when a value was given for the IO manager to store."""
        return self.value is not _NO_VALUE


@dataclass(frozen=True)
class Output:
    """A value with metadata, for a named output of an op or multi-asset.

    Example:
        >>> Output([1, 2, 3], output_name="numbers", metadata={"count": 3}).output_name
        'numbers'
    """

    value: Any
    output_name: str = "result"
    metadata: Mapping[str, Any] = field(default_factory=dict)
