"""Opening run storage for one API call, and closing it again when the API opened it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from raystra.storage import RunStorage, open_storage

__all__ = ["reading_storage"]


@contextlib.contextmanager
def reading_storage(storage: RunStorage | None) -> Iterator[RunStorage]:
    """Use ``storage`` as given, or open the configured one and close it afterwards."""
    if storage is not None:
        yield storage
        return
    opened = open_storage()
    try:
        yield opened
    finally:
        opened.close()
