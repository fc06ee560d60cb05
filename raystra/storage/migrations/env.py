"""Alembic environment for the run storage.

raystra runs alembic programmatically (see `raystra.storage._engine`): the caller passes an
open connection through ``config.attributes["connection"]`` and owns its transaction, which is
how concurrent openers serialise on one lock. Developers can still run the alembic CLI with
``sqlalchemy.url`` set in an ini file; then this module opens its own engine.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from raystra.storage._schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables when a migration needs to.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Upgrade through the caller's connection, or one made from ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "raystra migrations need a database: pass config.attributes['connection'] or set "
            "sqlalchemy.url (e.g. sqlite:////home/me/.raystra/raystra.db) in alembic.ini."
        )
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError(
        "raystra migrations run online only: open the storage (raystra.storage.open_storage) "
        "and it upgrades the database itself."
    )
run_migrations_online()
