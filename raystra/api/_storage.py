"""Opening run storage for one API call, and closing it again when the API opened it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from raystra.storage import RunStorage, open_storage

__all__ = ["reading_storage"]


@contextlib.contextmanager
def reading_storage(storage: RunStorage | None) -> Iterator[RunStorage]:
    """Use ``storage`` as given, or open the configured one and close it afterwards.

    Either way, runs whose driver died are failed first (see `raystra.api._monitor`), so no
    command ever shows a dead run as still in progress.
    """
    from raystra.api._monitor import check_for_dead_runs

    if storage is not None:
        check_for_dead_runs(storage)
        yield storage
        return
    opened = open_storage()
    check_for_dead_runs(opened)
    try:
        yield opened
    finally:
        opened.close()
