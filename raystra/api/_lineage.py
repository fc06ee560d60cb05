"""Lineage you can query: which materialization produced an asset partition, which upstream
materializations it read (recursively), or which later materializations read it.

This is the provenance run storage recorded when each step committed its output, not the
static asset graph: after an upstream partition is materialized again, the downstream lineage
still shows the version it actually read, marked as superseded (that is what makes it stale).

Example:
    >>> import raystra
    >>> tree = raystra.lineage("weekly_sales", "2024-01-07", depth=2)  # doctest: +SKIP
    >>> [(n.label, n.run_id, n.superseded) for n in tree.partitions[0].children]  # doctest: +SKIP
    [('daily_sales[2024-01-07]', '3f2a6c1e-...', False), ...]
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from raystra.api._storage import reading_storage
from raystra.definitions import AssetKey, Definitions
from raystra.definitions._keys import CoercibleToAssetKey
from raystra.definitions._partitions._base import quote_keys
from raystra.errors import PartitionKeyError, RaystraError, UnknownAssetError
from raystra.storage import RunStorage
from raystra.storage._lineage import LineageEdge, LineageGraph

__all__ = ["AssetLineage", "LineageMaterialization", "LineageNode", "lineage"]

Direction = Literal["upstream", "downstream"]
DIRECTIONS: tuple[Direction, ...] = ("upstream", "downstream")


@dataclass(frozen=True, kw_only=True)
class LineageMaterialization:
    """One recorded materialization: when it committed, and its code version and metadata.

    ``storage_id`` is the id of its ``AssetMaterialized`` event in run storage.

    Example:
        >>> done = LineageMaterialization(
        ...     storage_id=42, run_id="3f2a6c1e", timestamp=1714000000.0, data_version="9c1d",
        ...     code_version="2")
        >>> done.to_dict()["run_id"]
        '3f2a6c1e'
    """

    storage_id: int
    run_id: str
    timestamp: float
    data_version: str | None = None
    code_version: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what ``raystra lineage --json`` prints)."""
        return {
            "storage_id": self.storage_id,
            "run_id": self.run_id,
            "timestamp": self.timestamp,
            "data_version": self.data_version,
            "code_version": self.code_version,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True, kw_only=True)
class LineageNode:
    """An asset partition in a lineage tree, as one particular materialization of it.

    At the root: the partition's latest materialization. Looking upstream, each child is an
    input it read, with the run and data version recorded when it was read; looking downstream,
    each child is a later materialization that read it.

    Attributes:
        asset_key: The asset.
        partition: Its partition key (None for an unpartitioned asset).
        run_id: The run that produced this materialization, as recorded (None: the input was
            read before any materialization of it was recorded, e.g. an external asset).
        data_version: Its data version, as recorded.
        materialization: Its full record; None when run storage holds none.
        latest: The partition's latest materialization when it is newer than this one, i.e.
            this one is superseded: a reader of a superseded input is stale.
        children: Inputs (upstream) or readers (downstream), at most ``limit`` of them.
        total_children: How many are recorded in all; None past the depth looked at.
        superseded_inputs: Walking upstream, how many of all its recorded inputs were
            materialized again since it read them (more than 0: it is stale); None otherwise.

    Example:
        >>> node = LineageNode(asset_key=AssetKey("orders"), partition="2024-01-01",
        ...     run_id="3f2a6c1e", data_version="9c1d", total_children=0)
        >>> node.label, node.superseded
        ('orders[2024-01-01]', False)
    """

    asset_key: AssetKey
    partition: str | None
    run_id: str | None
    data_version: str | None
    materialization: LineageMaterialization | None = None
    latest: LineageMaterialization | None = None
    children: tuple[LineageNode, ...] = ()
    total_children: int | None = None
    superseded_inputs: int | None = None

    @property
    def label(self) -> str:
        """``asset[partition]``, or the asset key alone when unpartitioned."""
        key = self.asset_key.to_user_string()
        return key if self.partition is None else f"{key}[{self.partition}]"

    @property
    def superseded(self) -> bool:
        """True when the partition was materialized again after this materialization."""
        return self.latest is not None

    @property
    def stale(self) -> bool:
        """True when it read an input that was materialized again since (walking upstream)."""
        return bool(self.superseded_inputs)

    @property
    def hidden_children(self) -> int:
        """Recorded children not in `children` (past ``limit``, or past the depth)."""
        return (self.total_children or 0) - len(self.children)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, children included."""
        return {
            "asset_key": self.asset_key.to_user_string(),
            "partition": self.partition,
            "run_id": self.run_id,
            "data_version": self.data_version,
            "materialization": _as_dict(self.materialization),
            "superseded": self.superseded,
            "latest": _as_dict(self.latest),
            "total_children": self.total_children,
            "superseded_inputs": self.superseded_inputs,
            "children": [child.to_dict() for child in self.children],
        }


@dataclass(frozen=True, kw_only=True)
class AssetLineage:
    """The recorded lineage of an asset: one tree per partition shown.

    ``partitions`` holds the latest materialization of each partition shown, partition keys in
    descending order (newest first for time partitions; one, when a partition was asked for);
    ``total_partitions`` counts the asset's materialized partitions.

    Example:
        >>> tree = AssetLineage(asset_key=AssetKey("orders"), partition=None,
        ...     direction="upstream", depth=1, limit=20, partitions=(), total_partitions=30)
        >>> tree.more_partitions
        30
    """

    asset_key: AssetKey
    partition: str | None
    direction: Direction
    depth: int
    limit: int
    offset: int = 0
    partitions: tuple[LineageNode, ...]
    total_partitions: int

    @property
    def more_partitions(self) -> int:
        """Materialized partitions after the ones shown (0 when a partition was asked for)."""
        if self.partition is not None:
            return 0
        return max(self.total_partitions - self.offset - len(self.partitions), 0)

    def walk(self) -> Iterator[tuple[int, LineageNode]]:
        """Every node, depth first, with its level (0 for the partitions themselves)."""
        stack = [(0, node) for node in reversed(self.partitions)]
        while stack:
            level, node = stack.pop()
            yield level, node
            stack.extend((level + 1, child) for child in reversed(node.children))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what ``raystra lineage --json`` prints)."""
        return {
            "asset_key": self.asset_key.to_user_string(),
            "partition": self.partition,
            "direction": self.direction,
            "depth": self.depth,
            "limit": self.limit,
            "offset": self.offset,
            "total_partitions": self.total_partitions,
            "more_partitions": self.more_partitions,
            "partitions": [node.to_dict() for node in self.partitions],
        }


def lineage(
    asset: CoercibleToAssetKey,
    partition: str | None = None,
    *,
    direction: Direction = "upstream",
    depth: int = 1,
    limit: int = 20,
    offset: int = 0,
    definitions: Definitions | None = None,
    storage: RunStorage | None = None,
) -> AssetLineage:
    """Which materialization produced each partition of ``asset``, and what it read or fed.

    Args:
        asset: The asset key (``"raw/orders"``, ``["raw", "orders"]`` or an `AssetKey`).
        partition: One partition; None for every materialized partition's latest
            materialization, partition keys in descending order (newest days first).
        direction: ``"upstream"``: the materializations each one read; ``"downstream"``: the
            later materializations that read it.
        depth: Levels to follow (0: only the partitions' own materializations, with a count of
            their inputs or readers).
        limit: Partitions shown, and children shown per materialization; the rest are
            counted (`AssetLineage.more_partitions`, `LineageNode.hidden_children`).
        offset: Partitions to skip, to page through them ``limit`` at a time.
        definitions: When given, an unknown asset or invalid partition key is reported against
            them (nearest keys, expected key format).
        storage: Run storage; defaults to `raystra.storage.open_storage()`.

    Raises:
        UnknownAssetError: Nothing of ``asset`` is recorded and it is not defined, naming the
            nearest keys.
        PartitionKeyError: ``partition`` is not a partition, or not materialized, naming the
            materialized partitions nearest to it.
        RaystraError: The asset is defined but was never materialized; the message says how.

    Example:
        >>> tree = lineage("weekly_sales", "2024-01-07")  # doctest: +SKIP
        >>> [child.label for child in tree.partitions[0].children]  # doctest: +SKIP
        ['daily_sales[2024-01-07]', 'daily_sales[2024-01-08]', ...]
    """
    key = AssetKey.from_coercible(asset)
    _check_arguments(partition, direction, depth, limit, offset)
    with reading_storage(storage) as store:
        if definitions is not None:
            _check_defined(definitions, key, partition, store)
        graph = store.lineage_graph(
            key,
            partition=partition,
            direction=direction,
            depth=depth,
            limit=limit,
            offset=offset,
        )
        if not graph.roots and (partition is not None or graph.total_partitions == 0):
            raise _nothing_recorded(key, partition, graph.total_partitions, definitions, store)
    return AssetLineage(
        asset_key=key,
        partition=partition,
        direction=direction,
        depth=depth,
        limit=limit,
        offset=offset,
        partitions=_Tree(graph, depth).roots(),
        total_partitions=graph.total_partitions,
    )


class _Tree:
    """Builds `LineageNode` trees from the storage's flat `LineageGraph`."""

    def __init__(self, graph: LineageGraph, depth: int) -> None:
        self.graph = graph
        self.depth = depth
        self.details: dict[int, LineageMaterialization] = {}

    def roots(self) -> tuple[LineageNode, ...]:
        records = (self.graph.materializations[i] for i in self.graph.roots)
        return tuple(
            self._node(
                LineageEdge(r.asset_key, r.partition, r.run_id, r.data_version, r.storage_id),
                level=0,
            )
            for r in records
        )

    def _node(self, edge: LineageEdge, *, level: int) -> LineageNode:
        storage_id = edge.storage_id
        page = self.graph.edges.get(storage_id) if storage_id is not None else None
        children: tuple[LineageNode, ...] = ()
        if page is not None and level < self.depth:
            children = tuple(self._node(child, level=level + 1) for child in page.edges)
        return LineageNode(
            asset_key=edge.asset_key,
            partition=edge.partition,
            run_id=edge.run_id,
            data_version=edge.data_version,
            materialization=self._details(storage_id),
            latest=self._details(self._newer(edge)),
            children=children,
            total_children=None if page is None else page.total,
            superseded_inputs=(
                self.graph.superseded_inputs.get(storage_id) if storage_id is not None else None
            ),
        )

    def _newer(self, edge: LineageEdge) -> int | None:
        """The partition's latest materialization, when it is not the one ``edge`` names."""
        latest_id = self.graph.latest.get((edge.asset_key, edge.partition))
        if latest_id is None or latest_id == edge.storage_id:
            return None
        if edge.storage_id is None and edge.run_id is not None:
            # Recorded as read, but its record is gone: compare runs, as staleness does.
            latest_run = self.graph.materializations[latest_id].run_id
            return None if latest_run == edge.run_id else latest_id
        return latest_id

    def _details(self, storage_id: int | None) -> LineageMaterialization | None:
        record = self.graph.materializations.get(storage_id) if storage_id is not None else None
        if record is None:
            return None
        found = self.details.get(record.storage_id)
        if found is None:
            found = self.details[record.storage_id] = LineageMaterialization(
                storage_id=record.storage_id,
                run_id=record.run_id,
                timestamp=record.timestamp,
                data_version=record.data_version,
                code_version=record.code_version,
                metadata=record.metadata,
            )
        return found


def _as_dict(materialization: LineageMaterialization | None) -> dict[str, Any] | None:
    return None if materialization is None else materialization.to_dict()


def _check_arguments(
    partition: str | None, direction: str, depth: int, limit: int, offset: int
) -> None:
    if direction not in DIRECTIONS:
        raise RaystraError(
            f"Lineage direction {direction!r} is not one of {', '.join(map(repr, DIRECTIONS))}."
        )
    for name, value, least in (("depth", depth, 0), ("limit", limit, 1), ("offset", offset, 0)):
        if value < least:
            raise RaystraError(f"Lineage {name} must be at least {least}; it was {value}.")
    if partition == "":
        raise PartitionKeyError(
            "The partition key is empty: pass a partition key, or None for every partition."
        )


def _check_defined(
    definitions: Definitions, key: AssetKey, partition: str | None, store: RunStorage
) -> None:
    name = key.to_user_string()
    if not definitions.has_asset(key):
        known = [k.to_user_string() for k in definitions.asset_graph.keys]
        raise UnknownAssetError(
            f"No asset {name!r} is defined.{_nearest(name, known)} `raystra assets list` shows "
            "every asset."
        )
    partitions_def = definitions.partitions_def_for(key)
    if partition is None:
        return
    if partitions_def is None:
        raise PartitionKeyError(
            f"Asset {name!r} is not partitioned, so it has no partition {partition!r}: drop "
            "--partition (partition=...) to see its lineage."
        )
    partitions_def.validate_key(partition, asset=name, dynamic_partitions=store)


def _nothing_recorded(
    key: AssetKey,
    partition: str | None,
    total: int,
    definitions: Definitions | None,
    store: RunStorage,
) -> RaystraError:
    """The error for an asset (partition) with no recorded materialization."""
    name = key.to_user_string()
    how = f"raystra materialize --select {name}"
    if total == 0 and definitions is not None:
        if key in definitions.asset_graph.external:
            return RaystraError(
                f"Asset {name!r} is external (an AssetSpec): raystra does not materialize it, so "
                "it has no recorded lineage of its own. Look at the assets that read it with "
                f"`raystra lineage ASSET` on one of them."
            )
        needs_partition = definitions.partitions_def_for(key) is not None
        suffix = f" --partition {partition or 'KEY'}" if needs_partition else ""
        return RaystraError(
            f"Asset {name!r} has never been materialized, so it has no lineage yet. "
            f"Materialize it with: {how}{suffix}"
        )
    if total == 0:
        recorded = [k.to_user_string() for k in store.latest_materializations()]
        nearest = _nearest(name, recorded)
        return UnknownAssetError(
            f"No materialization of asset {name!r} is recorded in run storage.{nearest} If "
            f"{name!r} is defined but was never materialized, materialize it with: {how} "
            "(add --partition KEY for a partitioned asset)."
        )
    assert partition is not None
    near = store.partition_keys_near(key, partition)
    if near == [None]:
        return PartitionKeyError(
            f"Asset {name!r} is not partitioned, so it has no partition {partition!r}: drop "
            "--partition (partition=...) to see its lineage."
        )
    shown = quote_keys([k for k in near if k is not None], limit=len(near))
    return PartitionKeyError(
        f"Partition {partition!r} of asset {name!r} has no recorded materialization; "
        f"{total} partition(s) of it are materialized, the nearest by key: {shown}. Materialize "
        f"it with: {how} --partition {partition}. `raystra lineage {name}` lists the "
        f"materialized partitions (newest key first); `raystra assets status -s {name}` shows "
        "which are missing."
    )


def _nearest(name: str, candidates: list[str]) -> str:
    matches = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    if matches:
        return f" Nearest asset keys: {', '.join(map(repr, matches))}."
    if not candidates:
        return ""
    return f" Known asset keys include: {quote_keys(sorted(candidates), limit=5)}."
