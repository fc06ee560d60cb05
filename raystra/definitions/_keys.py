"""Asset keys: the identity of an asset, a path of name parts like ``raw/orders``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from raystra.errors import InvalidNameError

_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
_KEY_SEPARATOR = "/"


def validate_name(name: str, *, what: str) -> str:
    """Return ``name`` if it is a valid raystra name, else raise `InvalidNameError`.

    Names use letters, digits and underscores (Dagster's rule), so they are safe as path parts,
    selection tokens and SQL values.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidNameError(
            f"{what} {name!r} is not a valid name: use only letters, digits and underscores "
            f"(for example {_suggest_name(name)!r})."
        )
    return name


def _suggest_name(name: object) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", str(name)).strip("_")
    return cleaned or "my_asset"


@dataclass(frozen=True, order=True)
class AssetKey:
    """The unique identity of an asset: a path of name parts.

    Example:
        >>> AssetKey("orders").to_user_string()
        'orders'
        >>> AssetKey(["raw", "orders"]).to_user_string()
        'raw/orders'
        >>> AssetKey.from_user_string("raw/orders") == AssetKey(["raw", "orders"])
        True
    """

    path: tuple[str, ...]
    if TYPE_CHECKING:  # set in __init__, not a dataclass field
        _hash: int

    def __init__(self, path: str | Sequence[str]) -> None:
        parts = (path,) if isinstance(path, str) else tuple(path)
        if not parts:
            raise InvalidNameError("An asset key needs at least one part, e.g. AssetKey('orders').")
        for part in parts:
            validate_name(part, what="Asset key part")
        object.__setattr__(self, "path", parts)
        object.__setattr__(self, "_hash", hash(parts))

    def __hash__(self) -> int:
        # Keys are hashed constantly (planning, lookups); the path never changes.
        return self._hash

    def __getstate__(self) -> tuple[str, ...]:
        # The cached hash is not shipped: string hashes differ between processes.
        return self.path

    def __setstate__(self, path: tuple[str, ...]) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "_hash", hash(path))

    @classmethod
    def from_user_string(cls, text: str) -> AssetKey:
        """Parse ``"raw/orders"`` into ``AssetKey(["raw", "orders"])``."""
        return cls(text.strip(_KEY_SEPARATOR).split(_KEY_SEPARATOR))

    @classmethod
    def from_coercible(cls, value: CoercibleToAssetKey) -> AssetKey:
        """Accept an `AssetKey`, ``"raw/orders"``, or ``["raw", "orders"]``."""
        if isinstance(value, AssetKey):
            return value
        if isinstance(value, str):
            return cls.from_user_string(value)
        key = getattr(value, "key", None)  # an AssetsDefinition or AssetSpec with one key
        if isinstance(key, AssetKey):
            return key
        return cls(list(value))

    def to_user_string(self) -> str:
        """The ``a/b/c`` form used by the CLI, selections and storage."""
        return _KEY_SEPARATOR.join(self.path)

    def with_prefix(self, prefix: str | Sequence[str]) -> AssetKey:
        """Return this key with ``prefix`` parts in front."""
        prefix_parts = (prefix,) if isinstance(prefix, str) else tuple(prefix)
        return AssetKey([*prefix_parts, *self.path])

    @property
    def name(self) -> str:
        """The last part of the key."""
        return self.path[-1]

    def __str__(self) -> str:
        return self.to_user_string()

    def __repr__(self) -> str:
        return f"AssetKey({self.to_user_string()!r})"


CoercibleToAssetKey = AssetKey | str | Sequence[str]


def coerce_keys(values: Iterable[CoercibleToAssetKey]) -> tuple[AssetKey, ...]:
    """Coerce each value with `AssetKey.from_coercible`."""
    return tuple(AssetKey.from_coercible(value) for value in values)
