"""The asset dependency graph: keys, parents, children and groups, as immutable data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from raystra.definitions._keys import AssetKey

__all__ = ["AssetGraph"]


@dataclass(frozen=True)
class AssetGraph:
    """Which assets exist, what each depends on, and which group each belongs to.

    ``parents`` maps every key to the keys it depends on (data and non-data dependencies);
    ``external`` holds keys declared with `AssetSpec` that raystra never materializes.

    Example:
        >>> a, b = AssetKey("a"), AssetKey("b")
        >>> graph = AssetGraph.build(parents={a: (), b: (a,)}, groups={a: "raw", b: "raw"})
        >>> graph.children[a]
        frozenset({AssetKey('b')})
    """

    parents: Mapping[AssetKey, frozenset[AssetKey]]
    children: Mapping[AssetKey, frozenset[AssetKey]]
    groups: Mapping[AssetKey, str]
    external: frozenset[AssetKey] = frozenset()

    @classmethod
    def build(
        cls,
        *,
        parents: Mapping[AssetKey, Iterable[AssetKey]],
        groups: Mapping[AssetKey, str] | None = None,
        external: Iterable[AssetKey] = (),
    ) -> AssetGraph:
        """Build the graph from each key's parents; children are derived."""
        frozen_parents = {key: frozenset(deps) for key, deps in parents.items()}
        children: dict[AssetKey, set[AssetKey]] = {key: set() for key in frozen_parents}
        for key, deps in frozen_parents.items():
            for dep in deps:
                children.setdefault(dep, set()).add(key)
        return cls(
            parents=frozen_parents,
            children={key: frozenset(kids) for key, kids in children.items()},
            groups=dict(groups or {}),
            external=frozenset(external),
        )

    @property
    def keys(self) -> frozenset[AssetKey]:
        """Every asset key in the graph, external ones included."""
        return frozenset(self.parents)

    @property
    def materializable_keys(self) -> frozenset[AssetKey]:
        """Keys raystra can materialize (everything but `AssetSpec` externals)."""
        return self.keys - self.external

    def group_of(self, key: AssetKey) -> str:
        """The key's group name (``default`` when none was given)."""
        return self.groups.get(key, "default")
