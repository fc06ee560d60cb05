"""Lineage queries: which materialization produced an asset partition, what it read, and what
read it, from the provenance `store_events` recorded (never from the static graph).

`lineage_graph` walks one level of the tree at a time, with one batched query per table per
level, each through an index: ``asset_partitions`` by primary key, ``events`` by id,
``materialization_inputs`` by event id (upstream) or by upstream asset, partition and run
(downstream), ``asset_materializations`` by (asset, partition, run). A materialization reached
twice (a diamond, or one upstream read by every partition) is looked up once. The API
(`raystra.api.lineage`) shapes the flat result into a tree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, Engine, Select, and_, func, select

from raystra.definitions._keys import AssetKey
from raystra.storage._engine import any_of, chunked
from raystra.storage._schema import asset_materializations, asset_partitions, events
from raystra.storage._schema import materialization_inputs as inputs

__all__ = [
    "Direction",
    "EdgePage",
    "LineageEdge",
    "LineageGraph",
    "StoredMaterialization",
    "lineage_graph",
    "partition_keys_near",
]

Direction = Literal["upstream", "downstream"]

_UNPARTITIONED = ""  # the partition column of unpartitioned assets in the lineage tables

_PartitionKey = tuple[str, str]  # (asset key string, partition or "")
_RunKey = tuple[str, str, str]  # (asset key string, partition or "", run id)


class StoredMaterialization(NamedTuple):
    """One recorded materialization, read from its ``AssetMaterialized`` event."""

    storage_id: int
    asset_key: AssetKey
    partition: str | None
    run_id: str
    timestamp: float
    code_version: str | None
    data_version: str | None
    metadata: Mapping[str, Any]


class LineageEdge(NamedTuple):
    """One recorded link: an upstream input of a materialization, or one of its consumers.

    Upstream: the input (asset, partition) with the run and data version the consumer recorded
    reading. Downstream: the consuming materialization's own asset, partition, run and version.
    ``storage_id`` is the materialization at the other end; None when it is not in storage (an
    external asset, or one read before anything recorded it).
    """

    asset_key: AssetKey
    partition: str | None
    run_id: str | None
    data_version: str | None
    storage_id: int | None


class EdgePage(NamedTuple):
    """At most ``limit`` edges of one materialization, and how many are recorded in all."""

    edges: tuple[LineageEdge, ...]
    total: int


@dataclass(frozen=True, kw_only=True)
class LineageGraph:
    """What `lineage_graph` found, flat: the API turns it into a tree.

    ``edges`` has an entry for every materialization the walk expanded or counted (the last
    level's pages hold no edges, only the total). ``latest`` maps every (asset, partition) seen
    to its latest materialization's id, and ``materializations`` holds every materialization
    referenced, the latest ones included. Walking upstream, ``superseded_inputs`` counts, for
    each of those materializations, the inputs it read that were materialized again since (all
    of them, not only the ``limit`` in its page): more than 0 means it is stale.
    """

    roots: tuple[int, ...]
    total_partitions: int
    materializations: Mapping[int, StoredMaterialization]
    edges: Mapping[int, EdgePage]
    latest: Mapping[tuple[AssetKey, str | None], int]
    superseded_inputs: Mapping[int, int]


def lineage_graph(
    engine: Engine,
    asset_key: AssetKey,
    *,
    partition: str | None,
    direction: Direction,
    depth: int,
    limit: int,
    offset: int = 0,
) -> LineageGraph:
    """Walk the recorded lineage of ``asset_key`` (one partition, or every partition's latest).

    Roots are the latest materialization of each partition, partition keys in descending order
    (newest first for time partitions; ``limit`` of them from ``offset``). Each level keeps at
    most ``limit`` edges per materialization: inputs in recorded order, readers newest first.
    """
    key = asset_key.to_user_string()
    with engine.connect() as conn:
        total, roots = _roots(conn, key, partition, limit, offset)
        walk = _Walk(conn)
        walk.fetch(roots)
        roots = [i for i in roots if i in walk.materializations]  # a run deleted meanwhile
        walk.latest.update(
            ((root.asset_key, root.partition), root.storage_id)
            for root in (walk.materializations[i] for i in roots)
        )
        frontier = list(roots)
        for level in range(depth + 1):
            frontier = [i for i in dict.fromkeys(frontier) if i not in walk.edges]
            if not frontier:
                break
            if level == depth:
                walk.count(frontier, direction)
                break
            frontier = walk.expand(frontier, direction, limit)
    return LineageGraph(
        roots=tuple(roots),
        total_partitions=total,
        materializations=walk.materializations,
        edges=walk.edges,
        latest=walk.latest,
        superseded_inputs=walk.superseded,
    )


def partition_keys_near(
    engine: Engine, asset_key: AssetKey, partition: str, *, n: int = 3
) -> list[str | None]:
    """Up to ``n`` materialized partitions on each side of ``partition``, in key order.

    ``[None]`` means the asset is unpartitioned; ``[]`` that nothing of it was materialized.
    """
    table = asset_partitions
    mine = (table.c.asset_key == asset_key.to_user_string()) & table.c.event_id.is_not(None)
    below = select(table.c.partition).where(mine, table.c.partition < partition)
    above = select(table.c.partition).where(mine, table.c.partition > partition)
    with engine.connect() as conn:
        before = conn.execute(below.order_by(table.c.partition.desc()).limit(n)).scalars()
        after = conn.execute(above.order_by(table.c.partition).limit(n)).scalars()
        keys = [*reversed(list(before)), *after]
    return [key or None for key in keys]


def _roots(
    conn: Connection, key: str, partition: str | None, limit: int, offset: int
) -> tuple[int, list[int]]:
    table = asset_partitions
    mine = (table.c.asset_key == key) & table.c.event_id.is_not(None)
    total = conn.execute(select(func.count()).where(mine)).scalar_one()
    query = select(table.c.event_id).where(mine)
    if partition is not None:
        query = query.where(table.c.partition == partition)
    else:
        query = query.order_by(table.c.partition.desc()).limit(limit).offset(offset)
    return total, list(conn.execute(query).scalars())


class _Walk:
    """The state of one walk: materializations fetched, edges found, latest per partition."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.materializations: dict[int, StoredMaterialization] = {}
        self.edges: dict[int, EdgePage] = {}
        self.latest: dict[tuple[AssetKey, str | None], int] = {}
        self.superseded: dict[int, int] = {}

    def expand(self, frontier: list[int], direction: Direction, limit: int) -> list[int]:
        """Record one level of edges below ``frontier``; return the next level's ids."""
        if direction == "upstream":
            self._count_superseded(frontier)
            pages = self._inputs(frontier, limit)
        else:
            pages = self._consumers(frontier, limit)
        self.edges.update(pages)
        found = [edge for page in pages.values() for edge in page.edges]
        self.fetch(edge.storage_id for edge in found if edge.storage_id is not None)
        self._fetch_latest({(edge.asset_key, edge.partition) for edge in found})
        return [edge.storage_id for edge in found if edge.storage_id is not None]

    def count(self, frontier: list[int], direction: Direction) -> None:
        """Record only how many edges each of ``frontier`` has (the walk's depth is reached)."""
        if direction == "upstream":
            self._count_superseded(frontier)
            column = inputs.c.event_id
            counted = _grouped_counts(self.conn, [column], [(i,) for i in frontier])
            totals = {i: counted.get((i,), 0) for i in frontier}
        else:
            keys = {i: self._run_key(i) for i in frontier}
            counted = _grouped_counts(self.conn, _UPSTREAM_COLUMNS, list(set(keys.values())))
            totals = {i: counted.get(key, 0) for i, key in keys.items()}
        self.edges.update((i, EdgePage((), total)) for i, total in totals.items())

    def fetch(self, ids: Iterable[int]) -> None:
        """Read the events of materializations not fetched yet."""
        wanted = sorted(set(ids) - self.materializations.keys())
        query = select(events.c.id, events.c.run_id, events.c.timestamp, events.c.payload)
        for chunk in chunked(wanted, 1):
            for row in self.conn.execute(query.where(events.c.id.in_(chunk))):
                self.materializations[row.id] = _materialization(row)

    def _count_superseded(self, frontier: list[int]) -> None:
        """How many inputs of each materialization were materialized again since it read them.

        The same test as `stale_partitions`: the input's latest run differs from the run read
        (or nothing was recorded as read, and something is now).
        """
        now = asset_partitions
        joined = inputs.join(
            now,
            and_(
                now.c.asset_key == inputs.c.upstream_asset_key,
                now.c.partition == inputs.c.upstream_partition,
            ),
        )
        changed = now.c.materialized_run_id.is_not(None) & (
            inputs.c.upstream_run_id.is_(None)
            | (now.c.materialized_run_id != inputs.c.upstream_run_id)
        )
        self.superseded.update(dict.fromkeys(frontier, 0))
        for chunk in chunked(frontier, 1):
            query = (
                select(inputs.c.event_id, func.count())
                .select_from(joined)
                .where(inputs.c.event_id.in_(chunk), changed)
                .group_by(inputs.c.event_id)
            )
            self.superseded.update((row[0], row[1]) for row in self.conn.execute(query))

    def _run_key(self, storage_id: int) -> _RunKey:
        record = self.materializations[storage_id]
        partition = record.partition or _UNPARTITIONED
        return (record.asset_key.to_user_string(), partition, record.run_id)

    def _inputs(self, frontier: list[int], limit: int) -> dict[int, EdgePage]:
        rows = _top_rows(
            self.conn,
            [inputs.c.event_id],
            [(i,) for i in frontier],
            order_by=inputs.c.id,
            limit=limit,
        )
        resolved = self._resolve(
            {
                (row.upstream_asset_key, row.upstream_partition, row.upstream_run_id)
                for row in rows
                if row.upstream_run_id is not None
            }
        )
        pages: dict[int, list[LineageEdge]] = {i: [] for i in frontier}
        totals: dict[int, int] = dict.fromkeys(frontier, 0)
        for row in rows:
            run_key = (row.upstream_asset_key, row.upstream_partition, row.upstream_run_id)
            pages[row.event_id].append(
                LineageEdge(
                    asset_key=AssetKey.from_user_string(row.upstream_asset_key),
                    partition=row.upstream_partition or None,
                    run_id=row.upstream_run_id,
                    data_version=row.upstream_data_version,
                    storage_id=resolved.get(run_key),
                )
            )
            totals[row.event_id] = row.total
        return {i: EdgePage(tuple(pages[i]), totals[i]) for i in frontier}

    def _consumers(self, frontier: list[int], limit: int) -> dict[int, EdgePage]:
        keys = {i: self._run_key(i) for i in frontier}
        rows = _top_rows(
            self.conn,
            _UPSTREAM_COLUMNS,
            list(set(keys.values())),
            order_by=inputs.c.event_id.desc(),
            limit=limit,
        )
        self.fetch(row.event_id for row in rows)
        by_key: dict[_RunKey, list[LineageEdge]] = {}
        totals: dict[_RunKey, int] = {}
        for row in rows:
            run_key = (row.upstream_asset_key, row.upstream_partition, row.upstream_run_id)
            totals[run_key] = row.total
            consumer = self.materializations.get(row.event_id)
            if consumer is None:  # its run was deleted since the query above
                continue
            by_key.setdefault(run_key, []).append(
                LineageEdge(
                    asset_key=consumer.asset_key,
                    partition=consumer.partition,
                    run_id=consumer.run_id,
                    data_version=consumer.data_version,
                    storage_id=consumer.storage_id,
                )
            )
        return {
            i: EdgePage(tuple(by_key.get(key, ())), totals.get(key, 0)) for i, key in keys.items()
        }

    def _resolve(self, run_keys: set[_RunKey]) -> dict[_RunKey, int]:
        """The materialization each (asset, partition, run) names: the run's last one of it."""
        table = asset_materializations
        newest = func.max(table.c.event_id)
        columns = (table.c.asset_key, table.c.partition, table.c.run_id)
        found: dict[_RunKey, int] = {}
        partitioned = sorted(key for key in run_keys if key[1] != _UNPARTITIONED)
        for chunk in chunked(partitioned, 3):
            query = select(*columns, newest).where(any_of(columns, chunk))
            for asset, partition, run_id, storage_id in self.conn.execute(query.group_by(*columns)):
                found[(asset, partition, run_id)] = storage_id
        # Unpartitioned rows hold NULL, which no IN-list matches.
        whole = sorted((asset, run_id) for asset, partition, run_id in run_keys if not partition)
        for pairs in chunked(whole, 2):
            query = select(table.c.asset_key, table.c.run_id, newest).where(
                table.c.partition.is_(None), any_of((table.c.asset_key, table.c.run_id), pairs)
            )
            for asset, run_id, storage_id in self.conn.execute(
                query.group_by(table.c.asset_key, table.c.run_id)
            ):
                found[(asset, _UNPARTITIONED, run_id)] = storage_id
        return found

    def _fetch_latest(self, keys: set[tuple[AssetKey, str | None]]) -> None:
        """Record the latest materialization of each (asset, partition), and fetch it."""
        wanted = sorted(
            (asset.to_user_string(), partition or _UNPARTITIONED)
            for asset, partition in keys
            if (asset, partition) not in self.latest
        )
        table = asset_partitions
        columns = (table.c.asset_key, table.c.partition)
        for chunk in chunked(wanted, 2):
            query = select(*columns, table.c.event_id).where(
                any_of(columns, chunk), table.c.event_id.is_not(None)
            )
            for asset, partition, storage_id in self.conn.execute(query):
                self.latest[(AssetKey.from_user_string(asset), partition or None)] = storage_id
        self.fetch(self.latest.values())


_UPSTREAM_COLUMNS = [
    inputs.c.upstream_asset_key,
    inputs.c.upstream_partition,
    inputs.c.upstream_run_id,
]


def _top_rows(
    conn: Connection,
    group: Sequence[Any],
    keys: Sequence[tuple[Any, ...]],
    *,
    order_by: Any,
    limit: int,
) -> list[Any]:
    """The first ``limit`` lineage rows of each group in ``keys``, each with its group's total.

    One window query per chunk: a materialization that read 100,000 partitions costs an index
    range scan, not 100,000 rows through Python.
    """
    rank = func.row_number().over(partition_by=list(group), order_by=order_by).label("rank")
    total = func.count().over(partition_by=list(group)).label("total")
    rows: list[Any] = []
    for chunk in chunked(sorted(keys), len(group)):
        inner = (
            select(
                inputs.c.event_id,
                *_UPSTREAM_COLUMNS,
                inputs.c.upstream_data_version,
                rank,
                total,
            )
            .where(any_of(group, chunk))
            .subquery()
        )
        query: Select[Any] = select(inner).where(inner.c.rank <= limit).order_by(inner.c.rank)
        rows.extend(conn.execute(query))
    return rows


def _grouped_counts(
    conn: Connection, group: Sequence[Any], keys: Sequence[tuple[Any, ...]]
) -> dict[tuple[Any, ...], int]:
    counts: dict[tuple[Any, ...], int] = {}
    for chunk in chunked(sorted(keys), len(group)):
        query = select(*group, func.count()).where(any_of(group, chunk)).group_by(*group)
        for row in conn.execute(query):
            counts[tuple(row[:-1])] = row[-1]
    return counts


def _materialization(row: Any) -> StoredMaterialization:
    payload = json.loads(row.payload)
    return StoredMaterialization(
        storage_id=row.id,
        asset_key=AssetKey.from_user_string(payload["asset_key"]),
        partition=payload.get("partition"),
        run_id=row.run_id,
        timestamp=row.timestamp,
        code_version=payload.get("code_version"),
        data_version=payload.get("data_version"),
        metadata=payload.get("metadata") or {},
    )
