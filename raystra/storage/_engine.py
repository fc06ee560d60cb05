"""Engines and schema migrations for `SqlRunStorage`.

`create_engine` applies the SQLite settings every connection needs (WAL, busy timeout, foreign
keys); `upgrade_to_head` runs the alembic migrations shipped in ``raystra/storage/migrations``,
programmatically and under a database-wide lock, only when the database is behind.
`write_transaction` is how every write runs, so concurrent writers (several runs, a submitted
job beside a local run) retry what the database refused instead of failing.
"""

from __future__ import annotations

import functools
import json
import operator
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Connection, Engine, Select, Table, and_, or_, text
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from raystra.errors import RaystraError

__all__ = [
    "alembic_config",
    "any_of",
    "chunked",
    "create_engine",
    "dumps",
    "fetch_tuples",
    "insert_rows",
    "parse_url",
    "upgrade_to_head",
    "upsert",
    "write_transaction",
]

_SCRIPT_LOCATION = "raystra.storage:migrations"
_SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant works: it only has to be the same in every process migrating one database.
_PG_MIGRATION_LOCK = 0x72617973
# Bounded retries of a refused write transaction: 8 attempts, backoff 50 ms doubling to 2 s.
_WRITE_ATTEMPTS = 8
_BACKOFF_FIRST_S = 0.05
_BACKOFF_MAX_S = 2.0
_SQLITE_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED (primary result codes)
# serialization_failure, deadlock_detected: the transaction was rolled back and can be rerun.
_PG_RETRY_SQLSTATES = frozenset({"40001", "40P01"})

_T = TypeVar("_T")


# The fallback for what orjson refuses (integers beyond 64 bits): one encoder for every call,
# since json.dumps with options builds a new one each time.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# Dict keys that are not strings become strings, as json does; datetimes and dataclasses are
# left to the fallback (which refuses them, so what is storable does not depend on orjson).
_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps(value: Any) -> str:
    """JSON for event payloads and JSON columns: compact, unicode kept as-is.

    orjson does it (a tenth of the time of the json module: the driver encodes several payloads
    per step); NaN and infinities become null, as JSON has no such numbers (Postgres refuses
    them).

    Example:
        >>> dumps({"rows": 3, "path": "é"})
        '{"rows":3,"path":"é"}'
    """
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: the json module says what it cannot encode
        return _ENCODER.encode(value)


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (column name -> Python value; JSON columns as dicts) in one executemany.

    On SQLite this skips SQLAlchemy's per-row parameter processing, a large part of storing
    a trivial step's events: JSON columns are encoded here, with the engine's own `dumps`;
    other databases take the regular path.
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), rows)
        return
    names = tuple(rows[0])
    conn.exec_driver_sql(_sqlite_insert_sql(table.name, names), _sqlite_params(table, names, rows))


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    update: Sequence[str],
    *,
    newer: str | None = None,
) -> None:
    """Insert ``rows``, or update ``update`` columns where ``keys`` already exist.

    With ``newer``, an existing row is only updated by a row whose ``newer`` column is larger
    (or where the existing one is NULL): concurrent transactions may commit out of id order.
    Every row must have the same columns.

    Example:
        >>> upsert(conn, asset_partitions, rows, keys=("asset_key", "partition"),
        ...        update=("status", "event_id"), newer="event_id")  # doctest: +SKIP
    """
    if not rows:
        return
    # Postgres refuses to touch one row twice in a statement: keep the last row per key. Sorted
    # by key, so concurrent transactions lock shared rows in the same order and cannot deadlock.
    by_key = {tuple(row[k] for k in keys): row for row in rows}
    unique = [by_key[key] for key in sorted(by_key)]
    if conn.dialect.name == "sqlite":
        # The partition index is updated on every stored batch: plain executemany, as above.
        names = tuple(unique[0])
        sql = _sqlite_upsert_sql(table.name, names, tuple(keys), tuple(update), newer)
        conn.exec_driver_sql(sql, _sqlite_params(table, names, unique))
        return
    insert = postgresql.insert(table)
    where = None
    if newer is not None:
        current = table.c[newer]
        where = current.is_(None) | (current < insert.excluded[newer])
    statement = insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: insert.excluded[name] for name in update},
        where=where,
    )
    conn.execute(statement, unique)


def _sqlite_params(
    table: Table, names: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    values = _row_values(names)
    json_positions = _json_positions(table, names)
    if not json_positions:
        return [values(row) for row in rows]
    params = []
    for row in rows:
        row_values = list(values(row))
        for position in json_positions:
            # As SQLAlchemy's JSON type does, None is stored as JSON null.
            row_values[position] = dumps(row_values[position])
        params.append(tuple(row_values))
    return params


@functools.cache
def _row_values(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values in ``names`` order, as a tuple (itemgetter of one name gives no tuple)."""
    if len(names) == 1:
        return lambda row: (row[names[0]],)
    return operator.itemgetter(*names)


@functools.cache
def _json_positions(table: Table, names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(i for i, name in enumerate(names) if isinstance(table.c[name].type, JSON))


@functools.cache
def _sqlite_insert_sql(table_name: str, names: tuple[str, ...]) -> str:
    return f"INSERT INTO {table_name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"


@functools.cache
def _sqlite_upsert_sql(
    table_name: str,
    names: tuple[str, ...],
    keys: tuple[str, ...],
    update: tuple[str, ...],
    newer: str | None,
) -> str:
    assignments = ", ".join(f"{name} = excluded.{name}" for name in update)
    where = (
        f" WHERE {table_name}.{newer} IS NULL OR {table_name}.{newer} < excluded.{newer}"
        if newer is not None
        else ""
    )
    return (
        f"{_sqlite_insert_sql(table_name, names)} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {assignments}{where}"
    )


def fetch_tuples(conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``query`` as plain tuples, straight from the database driver.

    For large scans of plain columns (100,000 partitions): SQLAlchemy's result processing
    would double the time. Columns needing conversion (JSON) must not be selected this way.
    """
    compiled = query.compile(dialect=conn.dialect)
    params: Any = compiled.params
    if compiled.positiontup is not None:  # qmark/format styles take a sequence
        params = tuple(compiled.params[name] for name in compiled.positiontup)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        return list(cursor.fetchall())  # sqlite3 and psycopg rows are tuples
    finally:
        cursor.close()


_MAX_VARIABLES = 900  # bound parameters per statement, below SQLite's oldest limit (999)
_MAX_TERMS = 200  # OR-ed key tuples per statement (see `any_of`)


def any_of(columns: Sequence[Any], keys: Sequence[tuple[Any, ...]]) -> Any:
    """``columns`` equal one of the ``keys`` tuples, in a form every database indexes.

    Not a row-value IN: SQLite answers ``(a, b) IN (VALUES ...)`` with a full scan once the
    list has two rows, whereas each ``a = ? AND b = ?`` term of an OR is an index search.
    Pass at most one `chunked` slice of keys per statement.
    """
    if len(columns) == 1:
        return columns[0].in_([key[0] for key in keys])
    return or_(*(and_(*(c == v for c, v in zip(columns, key, strict=True))) for key in keys))


def chunked(items: Sequence[Any], arity: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices small enough for one `any_of` statement of ``arity`` columns."""
    # OR terms nest one expression level each: SQLite allows 1,000 levels.
    size = min(_MAX_VARIABLES // arity, _MAX_TERMS) if arity > 1 else _MAX_VARIABLES
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parse_url(url: str) -> URL:
    """Parse a SQLAlchemy URL, or raise a `RaystraError` that says what a valid one looks like.

    A PostgreSQL URL without a driver (``postgresql://`` or ``postgres://``, as most tools
    write them) gets psycopg 3, the driver ``raystra[postgres]`` installs; SQLAlchemy's own
    default would be psycopg2. An explicit driver (``postgresql+psycopg2://``) is kept.

    Example:
        >>> parse_url("sqlite:////tmp/raystra.db").get_backend_name()
        'sqlite'
        >>> parse_url("postgres://me@db.internal/raystra").drivername
        'postgresql+psycopg'
    """
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        # The URL may hold a password, so it is not echoed back.
        raise RaystraError(
            "The run storage URL (argument or $RAYSTRA_STORAGE_URL) is not a database URL. Use "
            "e.g. sqlite:////abs/path/raystra.db or postgresql+psycopg://user@host/raystra."
        ) from err
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine(url: URL) -> Engine:
    """An engine for ``url``; for a SQLite file, its directory is created and WAL turned on.

    Example:
        >>> engine = create_engine(parse_url("sqlite:////tmp/raystra-doc/raystra.db"))
    """
    is_sqlite = url.get_backend_name() == "sqlite"
    if is_sqlite and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # A server may restart or drop idle connections under a long-lived process (a daemon, a
    # long backfill): test each pooled connection before use. A SQLite file has no such failure.
    options: dict[str, Any] = {} if is_sqlite else {"pool_pre_ping": True}
    try:
        engine = sa_create_engine(
            url, json_serializer=dumps, json_deserializer=json.loads, **options
        )
    except (NoSuchModuleError, ModuleNotFoundError) as err:
        raise RaystraError(
            f"Cannot open the run storage {url.render_as_string(hide_password=True)!r}: {err}. "
            "Install its driver, e.g. `pip install raystra[postgres]` for PostgreSQL."
        ) from err
    if is_sqlite:
        sa_event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
    # WAL lets the CLI and web read while a run writes; it is stored in the file, so only the
    # first opener of a fresh database switches it.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        _switch_to_wal(cursor)
    # NORMAL is durable in WAL mode except for the last commits on power loss, and saves an
    # fsync per event batch.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    # SQLite answers "locked" at once, without the busy handler, when two connections switch a
    # fresh file to WAL together (waiting could deadlock), so retry until busy_timeout.
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def write_transaction(
    engine: Engine, work: Callable[[Connection], _T], *, lock: bool = False
) -> _T:
    """Run ``work`` in one transaction and commit it, rerunning it when the database refused it.

    Retried, with exponential backoff and jitter up to 8 attempts: SQLite's "database is
    locked" (a writer held the lock past the 30 s busy timeout, or SQLite refused to wait, as
    it does when a transaction that read an old snapshot tries to write) and Postgres
    serialization failures and deadlocks. These all roll the transaction back, so a rerun
    cannot store anything twice. Other errors (e.g. integrity errors) are raised at once.

    Args:
        engine: The storage's engine.
        work: Does the transaction's reads and writes; may be called several times.
        lock: Take the write lock before ``work`` runs, for read-modify-write transactions:
            ``BEGIN IMMEDIATE`` on SQLite (Postgres callers lock rows with FOR UPDATE).

    Example:
        >>> from raystra.storage._schema import runs
        >>> engine = create_engine(parse_url("sqlite:////tmp/raystra-doc/raystra.db"))
        >>> upgrade_to_head(engine, engine.url)
        >>> rename = runs.update().where(runs.c.run_id == "r0").values(job_name="nightly")
        >>> write_transaction(engine, lambda conn: conn.execute(rename).rowcount)
        0
    """
    for attempt in range(1, _WRITE_ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                if lock and conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                return work(conn)
        except DBAPIError as err:
            if attempt == _WRITE_ATTEMPTS or not _is_transient(err):
                raise
        backoff = min(_BACKOFF_MAX_S, _BACKOFF_FIRST_S * 2 ** (attempt - 1))
        # Jitter, so writers refused together do not come back together.
        time.sleep(backoff * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _is_transient(err: DBAPIError) -> bool:
    """Whether the database rolled the transaction back and asks for it to be run again."""
    if err.connection_invalidated:
        return False  # the commit's fate is unknown: a rerun could store events twice
    orig = err.orig
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_BUSY_CODES  # extended codes, e.g. BUSY_SNAPSHOT
        return "locked" in str(orig) or "busy" in str(orig)
    return getattr(orig, "sqlstate", None) in _PG_RETRY_SQLSTATES


def alembic_config() -> Config:
    """An alembic config for the shipped migrations; no ini file is read.

    Pass a connection through ``config.attributes["connection"]`` to run a command on it.

    Example:
        >>> alembic_config().get_main_option("script_location")
        'raystra.storage:migrations'
    """
    config = Config()
    config.set_main_option("script_location", _SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def upgrade_to_head(engine: Engine, url: URL) -> None:
    """Bring the schema to head, migrating under a database-wide lock only when needed.

    Example:
        >>> url = parse_url("sqlite:////tmp/raystra-doc/raystra.db")
        >>> upgrade_to_head(create_engine(url), url)
    """
    heads = set(_script().get_heads())
    with engine.connect() as conn:
        if set(MigrationContext.configure(conn).get_current_heads()) == heads:
            return
    with engine.connect() as conn:
        _lock_for_migration(conn)
        # Another process may have migrated while this one waited for the lock.
        current = set(MigrationContext.configure(conn).get_current_heads())
        known = {script.revision for script in _script().walk_revisions()}
        if unknown := current - known:
            raise RaystraError(
                f"The run storage {url.render_as_string(hide_password=True)!r} is at schema "
                f"revision {', '.join(sorted(unknown))}, which this raystra does not know (it "
                f"knows up to {', '.join(sorted(heads))}). Upgrade raystra to open it."
            )
        if current != heads:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        conn.commit()


def _lock_for_migration(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # Takes the write lock now (waiting up to busy_timeout), so concurrent openers of a
        # fresh file run the migrations one after the other instead of racing on CREATE TABLE.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
