"""`RunStorage` over SQLAlchemy Core: a SQLite file by default, or PostgreSQL.

The schema lives in `raystra.storage._schema` and is created and upgraded by the alembic
migrations shipped in ``raystra/storage/migrations`` (see `raystra.storage._engine`); opening a
storage upgrades an old database in place and costs one small query when it is current.
Both databases pass the same conformance suite (`raystra.testing.storage_suite`), and several
processes may write to one database at once: every write is one transaction, rerun whole when
the database refuses it (`raystra.storage._engine.write_transaction`).

Example:
    >>> import tempfile
    >>> from raystra.events import RunStarted
    >>> storage = SqlRunStorage(f"sqlite:///{tempfile.mkdtemp()}/raystra.db")
    >>> storage.add_run(RunRecord(run_id="r1", created_at=1.0))
    >>> storage.store_events([RunStarted(run_id="r1", timestamp=2.0)])
    >>> storage.get_run("r1").status
    <RunStatus.STARTED: 'STARTED'>
    >>> storage.close()
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Text, cast, false, func, or_, select
from sqlalchemy.exc import IntegrityError

from raystra.definitions._keys import AssetKey
from raystra.errors import RaystraError, RunNotFoundError
from raystra.events import (
    AssetMaterialized,
    Event,
    PartitionFailed,
    RunCanceled,
    RunFailed,
    RunStarted,
    RunStatus,
    RunSucceeded,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    event_from_dict,
    event_to_dict,
)
from raystra.storage import _automation_records as automation
from raystra.storage import _check_records as checks
from raystra.storage._backfill_records import (
    BackfillRecord,
    add_backfill,
    backfill_target_statuses,
    get_backfill,
    list_backfills,
    set_backfill_targets,
    update_backfill,
)
from raystra.storage._base import (
    MaterializationRecord,
    RunRecord,
    RunStorage,
    StepStats,
    StoredEvent,
)
from raystra.storage._engine import (
    create_engine,
    dumps,
    insert_rows,
    parse_url,
    upgrade_to_head,
    write_transaction,
)
from raystra.storage._lineage import (
    Direction,
    LineageGraph,
    lineage_graph,
    partition_keys_near,
)
from raystra.storage._partition_index import (
    PartitionState,
    PartitionSummary,
    add_dynamic_partitions,
    get_dynamic_partitions,
    index_partition_events,
    partition_run_ids,
    partition_states,
    partition_summaries,
    remove_dynamic_partitions,
    stale_partitions,
)
from raystra.storage._schema import asset_materializations, runs
from raystra.storage._schema import events as event_log

__all__ = ["SqlRunStorage"]

_STEP_KINDS = tuple(
    cls.kind for cls in (StepStarted, StepRetrying, StepSucceeded, StepFailed, StepSkipped)
)
_RUN_STATUS_BY_KIND = {
    RunStarted.kind: RunStatus.STARTED,
    RunSucceeded.kind: RunStatus.SUCCESS,
    RunFailed.kind: RunStatus.FAILURE,
    RunCanceled.kind: RunStatus.CANCELED,
}
_AMBIGUOUS_SHOWN = 10


class SqlRunStorage(RunStorage):
    """Runs, events and the materialization index in a SQL database.

    Args:
        url: A SQLAlchemy URL, e.g. ``sqlite:////home/me/.raystra/raystra.db`` or
            ``postgresql+psycopg://user@host/raystra``. A SQLite file's directory is created.

    Example:
        >>> import tempfile
        >>> storage = SqlRunStorage(f"sqlite:///{tempfile.mkdtemp()}/runs.db")
        >>> storage.get_runs()
        []
    """

    def __init__(self, url: str) -> None:
        self._url = parse_url(url)
        self._where = self._url.render_as_string(hide_password=True)
        self._engine = create_engine(self._url)
        try:
            upgrade_to_head(self._engine, self._url)
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"SqlRunStorage({self._where!r})"

    def add_run(self, record: RunRecord) -> None:
        """Insert a new run; a ``created_at`` of 0.0 means "now"."""
        values = {
            "run_id": record.run_id,
            "status": record.status.value,
            "job_name": record.job_name,
            "selection": list(record.selection),
            "run_config": dict(record.run_config),
            "tags": dict(record.tags),
            "parent_run_id": record.parent_run_id,
            "root_run_id": record.root_run_id,
            "executor": record.executor,
            "created_at": record.created_at or time.time(),
            "started_at": record.started_at,
            "ended_at": record.ended_at,
            "trace_context": record.trace_context,
            "driver_host": record.driver_host,
            "driver_pid": record.driver_pid,
            "heartbeat_at": record.heartbeat_at,
        }
        try:
            write_transaction(self._engine, lambda conn: conn.execute(runs.insert(), values))
        except IntegrityError as err:
            raise RaystraError(
                f"Run {record.run_id!r} already exists in the run storage {self._where}: give the "
                "new run a fresh id (raystra generates one when run_id is not passed)."
            ) from err

    def heartbeat(self, run_id: str, at: float) -> None:
        """Record that the run's driver is alive at ``at`` (one small UPDATE)."""
        beat = runs.update().where(runs.c.run_id == run_id).values(heartbeat_at=at)
        write_transaction(self._engine, lambda conn: conn.execute(beat))

    def store_events(self, events: Sequence[Event]) -> None:
        """Append ``events`` in one transaction, updating run status and the asset index."""
        if not events:
            return
        rows = [_event_row(event) for event in events]
        materialized = [
            (position, event)
            for position, event in enumerate(events)
            if isinstance(event, AssetMaterialized)
        ]
        partition_failures = any(isinstance(event, PartitionFailed) for event in events)
        run_updates = _run_updates(events)
        check_rows = checks.check_rows(events)

        def store(conn: Connection) -> None:
            if materialized:
                ids = _insert_returning_ids(conn, rows)
                insert_rows(
                    conn,
                    asset_materializations,
                    [_materialization_row(ids[pos], event) for pos, event in materialized],
                )
                with_ids = [(ids[pos], event) for pos, event in materialized]
                index_partition_events(conn, with_ids, events)
            else:
                conn.execute(event_log.insert(), rows)
                if partition_failures:
                    index_partition_events(conn, [], events)
            for run_id, values in run_updates.items():
                conn.execute(runs.update().where(runs.c.run_id == run_id).values(values))
            checks.insert_check_results(conn, check_rows)

        # One transaction, so a batch is stored whole or not at all; a transaction the database
        # refused (busy, deadlock) is rerun whole, so nothing is lost or stored twice.
        try:
            write_transaction(self._engine, store)
        except IntegrityError as err:
            self._raise_for_missing_runs({event.run_id for event in events}, err)
            raise

    def _raise_for_missing_runs(self, run_ids: set[str], err: IntegrityError) -> None:
        with self._engine.connect() as conn:
            known = set(
                conn.execute(select(runs.c.run_id).where(runs.c.run_id.in_(run_ids))).scalars()
            )
        missing = sorted(run_ids - known)
        if missing:
            raise RunNotFoundError(
                f"Cannot store events for run {missing[0]!r}: the run storage {self._where} has "
                "no such run. Add it with storage.add_run(RunRecord(run_id=...)) before storing "
                "its events."
            ) from err

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id, or a unique id prefix; raise `RunNotFoundError` otherwise."""
        if not run_id:
            raise RunNotFoundError("Pass a run id (or its first characters); it was empty.")
        matches: list[str] = []
        with self._engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
            if row is None:
                # LIKE is case-insensitive on SQLite, hence the exact re-check in Python.
                candidates = conn.execute(
                    select(runs.c.run_id)
                    .where(runs.c.run_id.startswith(run_id, autoescape=True))
                    .order_by(runs.c.run_id)
                ).scalars()
                matches = [match for match in candidates if match.startswith(run_id)]
                if len(matches) == 1:
                    row = conn.execute(select(runs).where(runs.c.run_id == matches[0])).one()
        if row is not None:
            return _run_record(row)
        if matches:
            shown = ", ".join(matches[:_AMBIGUOUS_SHOWN])
            more = (
                f" and {len(matches) - _AMBIGUOUS_SHOWN} more"
                if len(matches) > _AMBIGUOUS_SHOWN
                else ""
            )
            raise RunNotFoundError(
                f"Run id prefix {run_id!r} is ambiguous: it matches {shown}{more}. "
                "Type more characters of the run id."
            )
        raise RunNotFoundError(
            f"No run with id {run_id!r} (or an id starting with it) in the run storage at "
            f"{self._where}. `raystra runs list` shows the ids of recent runs."
        )

    def get_runs(
        self, *, limit: int = 50, statuses: Iterable[RunStatus] | None = None
    ) -> list[RunRecord]:
        """Most recent runs first."""
        query = select(runs).order_by(runs.c.created_at.desc(), runs.c.run_id.desc())
        if statuses is not None:
            query = query.where(runs.c.status.in_([RunStatus(s).value for s in statuses]))
        with self._engine.connect() as conn:
            return [_run_record(row) for row in conn.execute(query.limit(limit))]

    def find_runs(
        self,
        *,
        step_keys: Sequence[str] | None = None,
        limit: int = 50,
        statuses: Iterable[RunStatus] | None = None,
        created_before: float | None = None,
    ) -> list[RunRecord]:
        """Most recent runs first, optionally only those selecting ``step_keys`` (or a
        partition of one), by a LIKE over the selection's JSON text: one scan of the runs
        table, never of the much larger event log."""
        query = select(runs).order_by(runs.c.created_at.desc(), runs.c.run_id.desc())
        if step_keys is not None:
            selection = cast(runs.c.selection, Text)
            wanted = []
            for key in step_keys:
                quoted = dumps(key)  # spelled as the JSON column stores it
                wanted.append(selection.contains(quoted, autoescape=True))
                wanted.append(selection.contains(quoted[:-1] + "[", autoescape=True))
            query = query.where(or_(false(), *wanted))
        if statuses is not None:
            query = query.where(runs.c.status.in_([RunStatus(s).value for s in statuses]))
        if created_before is not None:
            query = query.where(runs.c.created_at < created_before)
        with self._engine.connect() as conn:
            return [_run_record(row) for row in conn.execute(query.limit(limit))]

    def get_events(
        self,
        run_id: str,
        *,
        after_storage_id: int = 0,
        kinds: Iterable[str] | None = None,
        step_key: str | None = None,
    ) -> list[StoredEvent]:
        """A run's events in the order they were stored."""
        query = (
            select(event_log.c.id, event_log.c.payload)
            .where(event_log.c.run_id == run_id, event_log.c.id > after_storage_id)
            .order_by(event_log.c.id)
        )
        if kinds is not None:
            query = query.where(event_log.c.kind.in_(list(kinds)))
        if step_key is not None:
            query = query.where(event_log.c.step_key == step_key)
        with self._engine.connect() as conn:
            return [
                StoredEvent(row.id, event_from_dict(json.loads(row.payload)))
                for row in conn.execute(query)
            ]

    def get_step_stats(self, run_id: str) -> list[StepStats]:
        """One entry per step that has lifecycle events in the run, in first-seen order."""
        query = (
            select(
                event_log.c.kind, event_log.c.step_key, event_log.c.timestamp, event_log.c.payload
            )
            .where(event_log.c.run_id == run_id, event_log.c.kind.in_(_STEP_KINDS))
            .order_by(event_log.c.id)
        )
        stats: dict[str, StepStats] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(query):
                current = stats.get(row.step_key) or StepStats(
                    step_key=row.step_key, status="IN_PROGRESS"
                )
                stats[row.step_key] = _apply_step_event(
                    current, row.kind, row.timestamp, row.payload
                )
        return list(stats.values())

    def latest_materializations(
        self, asset_keys: Iterable[AssetKey] | None = None
    ) -> dict[AssetKey, MaterializationRecord]:
        """The newest materialization of each asset (all assets when ``asset_keys`` is None)."""
        table = asset_materializations
        newest = select(func.max(table.c.id)).group_by(table.c.asset_key)
        if asset_keys is not None:
            keys = [key.to_user_string() for key in asset_keys]
            if not keys:
                return {}
            newest = newest.where(table.c.asset_key.in_(keys))
        with self._engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.id.in_(newest)))
            records = (_materialization_record(row) for row in rows)
            return {record.asset_key: record for record in records}

    def get_materializations(
        self, asset_key: AssetKey, *, limit: int = 100
    ) -> list[MaterializationRecord]:
        """An asset's materializations, newest first."""
        table = asset_materializations
        query = (
            select(table)
            .where(table.c.asset_key == asset_key.to_user_string())
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_materialization_record(row) for row in conn.execute(query)]

    # -- partitions ---------------------------------------------------------------------------

    def partition_states(self, asset_key: AssetKey) -> dict[str | None, PartitionState]:
        """Latest state of every recorded partition of ``asset_key`` (None: unpartitioned)."""
        return partition_states(self._engine, asset_key)

    def partition_run_ids(self, asset_key: AssetKey) -> dict[str | None, str]:
        """Partition (None: unpartitioned) -> run id of its last good materialization."""
        return partition_run_ids(self._engine, asset_key)

    def partition_summaries(
        self, asset_keys: Sequence[AssetKey]
    ) -> dict[AssetKey, PartitionSummary]:
        """Partition counts of many assets at once (two grouped queries)."""
        return partition_summaries(self._engine, asset_keys)

    def stale_partitions(self, asset_key: AssetKey) -> dict[str | None, list[str]]:
        """Partitions whose consumed upstream partitions were re-materialized since."""
        return stale_partitions(self._engine, asset_key)

    # -- lineage ------------------------------------------------------------------------------

    def lineage_graph(
        self,
        asset_key: AssetKey,
        *,
        partition: str | None,
        direction: Direction,
        depth: int,
        limit: int,
        offset: int = 0,
    ) -> LineageGraph:
        """Recorded lineage of one partition, or of every partition's latest materialization."""
        return lineage_graph(
            self._engine,
            asset_key,
            partition=partition,
            direction=direction,
            depth=depth,
            limit=limit,
            offset=offset,
        )

    def partition_keys_near(
        self, asset_key: AssetKey, partition: str, *, n: int = 3
    ) -> list[str | None]:
        """Materialized partitions of ``asset_key`` next to ``partition`` in key order."""
        return partition_keys_near(self._engine, asset_key, partition, n=n)

    def get_dynamic_partitions(self, name: str) -> list[str]:
        """Keys of the `DynamicPartitionsDefinition` called ``name``, oldest first."""
        return get_dynamic_partitions(self._engine, name)

    def add_dynamic_partitions(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add partition keys to dynamic definition ``name``; return the ones that were new."""
        return add_dynamic_partitions(self._engine, name, keys)

    def remove_dynamic_partitions(self, name: str, keys: Sequence[str]) -> list[str]:
        """Remove partition keys from ``name``; return the ones that existed."""
        return remove_dynamic_partitions(self._engine, name, keys)

    # -- backfills ----------------------------------------------------------------------------

    def add_backfill(self, record: BackfillRecord) -> None:
        """Record a new backfill."""
        add_backfill(self._engine, record)

    def update_backfill(
        self, backfill_id: str, *, status: str | None = None, add_run_id: str | None = None
    ) -> None:
        """Change a backfill's status and/or append a run to it."""
        update_backfill(self._engine, backfill_id, status=status, add_run_id=add_run_id)

    def get_backfill(self, backfill_id: str) -> BackfillRecord:
        """The backfill with this id (or unique prefix), with target counts."""
        return get_backfill(self._engine, backfill_id)

    def list_backfills(self, *, limit: int = 20) -> list[BackfillRecord]:
        """Most recent backfills first."""
        return list_backfills(self._engine, limit=limit)

    def set_backfill_targets(
        self,
        backfill_id: str,
        statuses: Iterable[tuple[str, str | None, str]],
        *,
        run_id: str | None = None,
    ) -> None:
        """Set (asset key, partition, status) of backfill targets."""
        set_backfill_targets(self._engine, backfill_id, statuses, run_id=run_id)

    def backfill_target_statuses(self, backfill_id: str) -> dict[tuple[str, str | None], str]:
        """(asset key, partition) -> status of every target of a backfill."""
        return backfill_target_statuses(self._engine, backfill_id)

    # -- automation -----------------------------------------------------------------------

    def get_instigator_states(
        self, names: Sequence[str] | None = None
    ) -> dict[str, automation.InstigatorState]:
        """Stored state of schedules/sensors by name."""
        return automation.get_instigator_states(self._engine, names)

    def save_instigator_state(
        self,
        name: str,
        *,
        kind: str,
        status: Any = ...,
        cursor: Any = ...,
        last_tick_at: Any = ...,
    ) -> None:
        """Set the given fields of a schedule's/sensor's state."""
        given = {"status": status, "cursor": cursor, "last_tick_at": last_tick_at}
        values = {k: v for k, v in given.items() if v is not ...}
        automation.save_instigator_state(self._engine, name, kind=kind, values=values)

    def add_tick(self, tick: automation.TickRecord) -> int:
        """Store a tick; its id."""
        return automation.add_tick(self._engine, tick)

    def get_ticks(
        self, name: str, *, limit: int = 20, statuses: Sequence[str] | None = None
    ) -> list[automation.TickRecord]:
        """Ticks of ``name``, newest first."""
        return automation.get_ticks(self._engine, name, limit=limit, statuses=statuses)

    def reserve_run_key(
        self, name: str, run_key: str, *, run_id: str, request: Mapping[str, Any]
    ) -> bool:
        """Claim ``run_key`` (the table's primary key refuses a second claim)."""
        return automation.reserve_run_key(
            self._engine, name, run_key, run_id=run_id, request=request
        )

    def get_run_key(self, name: str, run_key: str) -> automation.RunKeyRecord | None:
        """The reservation of ``run_key`` by ``name``."""
        return automation.get_run_key(self._engine, name, run_key)

    def pending_launches(self, *, limit: int = 100) -> list[automation.RunKeyRecord]:
        """Reserved launches whose run was never recorded, oldest first."""
        return automation.pending_launches(self._engine, limit=limit)

    def record_launch_error(self, name: str, run_key: str, error: str) -> None:
        """Mark a reserved launch as failed before its run was recorded."""
        automation.record_launch_error(self._engine, name, run_key, error)

    def save_automation_evaluations(self, rows: Sequence[automation.AutomationEvaluation]) -> None:
        """Replace the latest automation evaluation of each asset in ``rows``."""
        automation.save_automation_evaluations(self._engine, rows)

    def get_automation_evaluations(self) -> dict[str, automation.AutomationEvaluation]:
        """The latest automation evaluation of each asset."""
        return automation.get_automation_evaluations(self._engine)

    def get_check_results(
        self,
        asset_key: AssetKey,
        *,
        check_name: str | None = None,
        partition: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
    ) -> list[checks.AssetCheckRecord]:
        """An asset's check results, newest first."""
        return checks.get_check_results(
            self._engine,
            asset_key,
            check_name=check_name,
            partition=partition,
            run_id=run_id,
            limit=limit,
        )

    def latest_check_results(
        self, asset_keys: Iterable[AssetKey] | None = None
    ) -> dict[AssetKey, list[checks.AssetCheckRecord]]:
        """Per asset, the newest result of each (check, partition)."""
        return checks.latest_check_results(self._engine, asset_keys)

    def close(self) -> None:
        """Close pooled connections; the storage must not be used afterwards."""
        self._engine.dispose()


def _insert_returning_ids(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert event rows and return their ids, in order."""
    if conn.dialect.name != "sqlite":
        result = conn.execute(
            event_log.insert().returning(event_log.c.id, sort_by_parameter_order=True), rows
        )
        return list(result.scalars().all())
    # SQLite: a plain executemany costs a fraction of SQLAlchemy's per-row parameter handling
    # (the event log is on every step's path). The ids are consecutive: this transaction holds
    # the database's write lock from its first insert, so no other writer can interleave.
    insert_rows(conn, event_log, rows)
    last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
    return list(range(last - len(rows) + 1, last + 1))


def _event_row(event: Event) -> dict[str, Any]:
    asset_key = getattr(event, "asset_key", None)
    try:
        payload = dumps(event_to_dict(event))
    except (TypeError, ValueError) as err:
        raise RaystraError(
            f"Cannot store {event.kind} of run {event.run_id!r} (step "
            f"{getattr(event, 'step_key', None)!r}): {err}. Metadata values must be JSON-able: "
            "str, int, float, bool, None, or lists and dicts of them."
        ) from err
    return {
        "run_id": event.run_id,
        "kind": event.kind,
        "step_key": getattr(event, "step_key", None),
        "asset_key": asset_key.to_user_string() if isinstance(asset_key, AssetKey) else None,
        "timestamp": event.timestamp,
        "payload": payload,
    }


def _materialization_row(event_id: int, event: AssetMaterialized) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "asset_key": event.asset_key.to_user_string(),
        "partition": event.partition,
        "run_id": event.run_id,
        "step_key": event.step_key,
        "timestamp": event.timestamp,
        "metadata": dict(event.metadata),
        "code_version": event.code_version,
    }


def _run_updates(events: Sequence[Event]) -> dict[str, dict[str, Any]]:
    """Column values per run from its run events, later events winning."""
    updates: dict[str, dict[str, Any]] = {}
    for event in events:
        status = _RUN_STATUS_BY_KIND.get(event.kind)
        if status is None:
            continue
        values = updates.setdefault(event.run_id, {})
        values["status"] = status.value
        if isinstance(event, RunStarted):
            values["started_at"] = event.timestamp
            values["executor"] = event.executor
        else:
            values["ended_at"] = event.timestamp
    return updates


def _apply_step_event(stats: StepStats, kind: str, timestamp: float, payload: str) -> StepStats:
    if kind == StepStarted.kind:
        return dataclasses.replace(
            stats,
            status="IN_PROGRESS",
            attempts=stats.attempts + 1,
            start_time=stats.start_time if stats.start_time is not None else timestamp,
            end_time=None,
        )
    if kind == StepSucceeded.kind:
        return dataclasses.replace(stats, status="SUCCESS", end_time=timestamp, error=None)
    if kind == StepFailed.kind:
        failed = event_from_dict(json.loads(payload))
        assert isinstance(failed, StepFailed)
        return dataclasses.replace(stats, status="FAILURE", end_time=timestamp, error=failed.error)
    if kind == StepSkipped.kind:
        skipped = event_from_dict(json.loads(payload))
        assert isinstance(skipped, StepSkipped)
        return dataclasses.replace(
            stats, status="SKIPPED", end_time=timestamp, skip_reason=skipped.reason
        )
    return stats  # StepRetrying: still in progress, waiting for the next attempt


def _run_record(row: Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        status=RunStatus(row.status),
        job_name=row.job_name,
        selection=tuple(row.selection),
        run_config=row.run_config,
        tags=row.tags,
        parent_run_id=row.parent_run_id,
        root_run_id=row.root_run_id,
        executor=row.executor,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        trace_context=row.trace_context,
        driver_host=row.driver_host,
        driver_pid=row.driver_pid,
        heartbeat_at=row.heartbeat_at,
    )


def _materialization_record(row: Row[Any]) -> MaterializationRecord:
    return MaterializationRecord(
        storage_id=row.event_id,
        asset_key=AssetKey.from_user_string(row.asset_key),
        partition=row.partition,
        run_id=row.run_id,
        step_key=row.step_key,
        timestamp=row.timestamp,
        metadata=row.metadata,
        code_version=row.code_version,
    )
