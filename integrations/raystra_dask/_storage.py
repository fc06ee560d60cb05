"""Dask writing an asset's Parquet directory: into a temporary sibling, then swapped in.

Dask writes one file per partition, so it cannot write in place without readers seeing a mix
of old and new files. It writes to a hidden sibling directory (``_<name>.tmp-<hex>``, skipped by
Arrow, Dask, Spark and polars readers); once every file is there, the old value is moved aside
and the new directory moved into place. On local disk each move is one atomic rename: a reader
sees the old value, the new one, or (for the instant between the two renames) nothing. Object
stores have no directory rename: fsspec copies and deletes object by object, so a reader
listing the prefix during the swap can see part of it; the previous value is still never
deleted before the new one is complete.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Callable
from typing import Any

from raystra_io import EngineLocation
from raystra_io._atomic import temp_sibling

__all__ = ["url_of", "write_swapped"]


def url_of(location: EngineLocation, path: str) -> str:
    """``path`` (inside the location's filesystem) as a URL Dask can open with fsspec."""
    if location.url == location.path:  # local disk: the URL is the plain path
        return path
    return str(location.filesystem.unstrip_protocol(path))


def _remove(fs: Any, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if fs.exists(path):
            fs.rm(path, recursive=True)


def write_swapped(location: EngineLocation, write: Callable[[str], None]) -> str:
    """Call ``write(temp_url)``, then move that directory to ``location``; return its path.

    If ``write`` raises, the temporary directory is removed and ``location`` keeps whatever it
    held (a file written by pyarrow, or an earlier engine's directory).
    """
    fs, path = location.filesystem, location.path
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    temp = temp_sibling(path)
    try:
        write(url_of(location, temp))
    except BaseException:
        with contextlib.suppress(Exception):  # cleanup must not hide the write's error
            _remove(fs, temp)
        raise
    old = temp_sibling(path) if fs.exists(path) else None
    if old is not None:
        fs.mv(path, old, recursive=True)
    try:
        fs.mv(temp, path, recursive=True)
    except BaseException:
        with contextlib.suppress(Exception):
            if old is not None:
                _remove(fs, path)
                fs.mv(old, path, recursive=True)
            _remove(fs, temp)
        raise
    if old is not None:
        _remove(fs, old)
    return path
