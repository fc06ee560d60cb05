"""Automation records: schedule/sensor state, ticks, reserved run keys, condition evaluations.

Example:
    >>> from raystra.storage import open_storage
    >>> storage = open_storage("sqlite://")
    >>> storage.reserve_run_key("nightly", "2024-01-01", run_id="r1", request={})
    True
    >>> storage.reserve_run_key("nightly", "2024-01-01", run_id="r2", request={})
    False
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from raystra.storage._engine import write_transaction
from raystra.storage._partition_index import upsert
from raystra.storage._schema import (
    automation_evaluations,
    instigator_run_keys,
    instigator_states,
    instigator_ticks,
    runs,
)

__all__ = [
    "AutomationEvaluation",
    "InstigatorState",
    "RunKeyRecord",
    "TickRecord",
]


@dataclass(frozen=True, kw_only=True)
class InstigatorState:
    """A schedule's or sensor's stored state.

    ``status`` is what a user set with start/stop (None: the definition's default status);
    ``last_tick_at`` is the last tick evaluated (schedules) or the last evaluation (sensors).
    """

    name: str
    kind: str
    status: str | None = None
    cursor: str | None = None
    last_tick_at: float | None = None
    updated_at: float = 0.0


@dataclass(frozen=True, kw_only=True)
class TickRecord:
    """One evaluation of a schedule or sensor: ``success``, ``skipped`` or ``failed``."""

    tick_id: int = 0
    name: str
    kind: str
    tick_at: float
    status: str
    run_ids: tuple[str, ...] = ()
    run_keys: tuple[str, ...] = ()
    skip_reason: str | None = None
    error: str | None = None
    cursor: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True, kw_only=True)
class RunKeyRecord:
    """A reserved run key and the launch it stands for."""

    name: str
    run_key: str
    run_id: str
    request: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    launch_error: str | None = None


@dataclass(frozen=True, kw_only=True)
class AutomationEvaluation:
    """The latest automation-condition evaluation of one asset."""

    asset_key: str
    condition: str
    evaluated_at: float
    requested: bool
    reason: str
    run_id: str | None = None


def _state(row: Any) -> InstigatorState:
    return InstigatorState(
        name=row.name,
        kind=row.kind,
        status=row.status,
        cursor=row.cursor,
        last_tick_at=row.last_tick_at,
        updated_at=row.updated_at,
    )


def get_instigator_states(engine: Engine, names: Sequence[str] | None) -> dict[str, Any]:
    """State rows by name (every row when ``names`` is None)."""
    query = select(instigator_states)
    if names is not None:
        query = query.where(instigator_states.c.name.in_(list(names)))
    with engine.connect() as conn:
        return {row.name: _state(row) for row in conn.execute(query)}


def save_instigator_state(
    engine: Engine, name: str, *, kind: str, values: Mapping[str, Any]
) -> None:
    """Insert or update ``values`` (status, cursor, last_tick_at) of one instigator."""
    row = {
        "name": name,
        "kind": kind,
        "status": None,
        "cursor": None,
        "last_tick_at": None,
        **values,
        "updated_at": time.time(),
    }
    columns = ["kind", *values, "updated_at"]
    write_transaction(
        engine, lambda conn: upsert(conn, instigator_states, [row], ("name",), columns)
    )


def add_tick(engine: Engine, tick: TickRecord) -> int:
    """Store a tick; its id."""
    values = {
        "name": tick.name,
        "kind": tick.kind,
        "tick_at": tick.tick_at,
        "status": tick.status,
        "run_ids": list(tick.run_ids),
        "run_keys": list(tick.run_keys),
        "skip_reason": tick.skip_reason,
        "error": tick.error,
        "cursor": tick.cursor,
        "created_at": tick.created_at or time.time(),
    }

    def insert(conn: Connection) -> int:
        key = conn.execute(instigator_ticks.insert(), values).inserted_primary_key
        assert key is not None  # a single-row insert always reports its key
        return int(key[0])

    return write_transaction(engine, insert)


def get_ticks(
    engine: Engine, name: str, *, limit: int, statuses: Sequence[str] | None
) -> list[TickRecord]:
    """Ticks of ``name``, newest first."""
    t = instigator_ticks.c
    query = select(instigator_ticks).where(t.name == name)
    if statuses:
        query = query.where(t.status.in_(list(statuses)))
    query = query.order_by(t.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [
            TickRecord(
                tick_id=row.id,
                name=row.name,
                kind=row.kind,
                tick_at=row.tick_at,
                status=row.status,
                run_ids=tuple(row.run_ids),
                run_keys=tuple(row.run_keys),
                skip_reason=row.skip_reason,
                error=row.error,
                cursor=row.cursor,
                created_at=row.created_at,
            )
            for row in conn.execute(query)
        ]


def reserve_run_key(
    engine: Engine, name: str, run_key: str, *, run_id: str, request: Mapping[str, Any]
) -> bool:
    """Claim ``run_key`` for ``name``; False when it was claimed before (by anyone)."""
    values = {
        "name": name,
        "run_key": run_key,
        "run_id": run_id,
        "request": dict(request),
        "created_at": time.time(),
    }
    try:
        write_transaction(engine, lambda conn: conn.execute(instigator_run_keys.insert(), values))
    except IntegrityError:
        return False
    return True


def _run_key(row: Any) -> RunKeyRecord:
    return RunKeyRecord(
        name=row.name,
        run_key=row.run_key,
        run_id=row.run_id,
        request=row.request,
        created_at=row.created_at,
        launch_error=row.launch_error,
    )


def get_run_key(engine: Engine, name: str, run_key: str) -> RunKeyRecord | None:
    """The reservation of ``run_key`` by ``name``, if any."""
    k = instigator_run_keys.c
    query = select(instigator_run_keys).where(k.name == name, k.run_key == run_key)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _run_key(row) if row is not None else None


def pending_launches(engine: Engine, *, limit: int) -> list[RunKeyRecord]:
    """Reserved run keys whose run was never recorded and whose launch did not fail, oldest
    first (a daemon that died between reserving and launching left them)."""
    k = instigator_run_keys.c
    query = (
        select(instigator_run_keys)
        .outerjoin(runs, runs.c.run_id == k.run_id)
        .where(runs.c.run_id.is_(None), k.launch_error.is_(None))
        .order_by(k.created_at, k.name, k.run_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_run_key(row) for row in conn.execute(query)]


def record_launch_error(engine: Engine, name: str, run_key: str, error: str) -> None:
    """Mark a reserved launch as failed before its run started (it is not retried)."""
    k = instigator_run_keys.c
    statement = (
        instigator_run_keys.update()
        .where(k.name == name, k.run_key == run_key)
        .values(launch_error=error)
    )
    write_transaction(engine, lambda conn: conn.execute(statement))


def save_automation_evaluations(engine: Engine, rows: Sequence[AutomationEvaluation]) -> None:
    """Replace the latest evaluation of each asset in ``rows``."""
    values = [
        {
            "asset_key": r.asset_key,
            "condition": r.condition,
            "evaluated_at": r.evaluated_at,
            "requested": int(r.requested),
            "reason": r.reason,
            "run_id": r.run_id,
        }
        for r in rows
    ]
    columns = ("condition", "evaluated_at", "requested", "reason", "run_id")
    write_transaction(
        engine,
        lambda conn: upsert(conn, automation_evaluations, values, ("asset_key",), columns),
    )


def get_automation_evaluations(engine: Engine) -> dict[str, AutomationEvaluation]:
    """The latest evaluation of every asset with an automation condition, by asset key."""
    with engine.connect() as conn:
        rows = conn.execute(select(automation_evaluations)).all()
    return {
        row.asset_key: AutomationEvaluation(
            asset_key=row.asset_key,
            condition=row.condition,
            evaluated_at=row.evaluated_at,
            requested=bool(row.requested),
            reason=row.reason,
            run_id=row.run_id,
        )
        for row in rows
    }
