"""Atomic commit of a stored value: write a temporary sibling, then move it into place.

A step that fails or is killed while writing leaves, at worst, an orphaned temporary file whose
name readers skip; the final path holds either the previous committed value or the new one.
"""

from __future__ import annotations

import contextlib
import posixpath
import uuid
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["TEMP_MARKER", "is_temp_name", "temp_sibling", "write_atomically"]

TEMP_MARKER = ".tmp-"


def temp_sibling(path: str) -> str:
    """A fresh temporary path beside ``path``.

    The leading ``_`` makes Arrow, Spark and Dask dataset discovery skip the file, and the
    ``.tmp-<hex>`` suffix keeps it out of ``*.parquet`` globs (polars), so a reader of a
    partitioned directory never sees a write in progress or one a killed step left behind.

    Example:
        >>> temp_sibling("/data/raw/orders.parquet").startswith("/data/raw/_orders.parquet.tmp-")
        True
    """
    parent, name = posixpath.split(path)
    return posixpath.join(parent, f"_{name}{TEMP_MARKER}{uuid.uuid4().hex}")


def is_temp_name(name: str) -> bool:
    """True if ``name`` (a file name or path) is a temporary file made by `temp_sibling`.

    Example:
        >>> is_temp_name(temp_sibling("/data/orders.pkl"))
        True
    """
    base = posixpath.basename(name)
    return base.startswith("_") and TEMP_MARKER in base


def write_atomically(
    fs: Any,
    path: str,
    write: Callable[[str], object],
    *,
    replaces: Iterable[str] = (),
) -> int:
    """Call ``write(temp_path)``, then move the file to ``path``; return its size in bytes.

    If ``write`` (or the move) raises, the temporary file is removed and the error re-raised,
    so ``path`` keeps its previous value. Only after the move are the ``replaces`` paths (the
    same output stored in another format) deleted, so some complete value is always readable.

    Args:
        fs: The fsspec filesystem holding ``path``.
        path: The final path.
        write: Writes the complete value to the path it is given.
        replaces: Stale paths to delete once the new value is committed; missing ones are fine.

    Example:
        >>> import fsspec
        >>> fs = fsspec.filesystem("memory")
        >>> write_atomically(fs, "/doc/a.txt", lambda tmp: fs.pipe_file(tmp, b"hello"))
        5
    """
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    temp = temp_sibling(path)
    try:
        write(temp)
        size = int(fs.size(temp))
        # Local rename is atomic; object stores copy, and an object appears whole or not at all.
        fs.mv(temp, path)
    except BaseException:
        # Cleanup must not hide the write's own error (e.g. a store that is unreachable).
        with contextlib.suppress(Exception):
            if fs.exists(temp):
                fs.rm(temp)
        raise
    for stale in replaces:
        with contextlib.suppress(FileNotFoundError):
            fs.rm(stale)
    return size
