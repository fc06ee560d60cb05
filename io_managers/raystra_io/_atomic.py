"""Atomic commit of a stored value: write a temporary sibling, then move it into place.

A step that fails or is killed while writing leaves, at worst, an orphaned temporary file whose
name readers skip; the final path holds either the previous committed value or the new one.

What "move into place" is depends on the store:

* local disk: a rename, atomic within one filesystem;
* object stores (S3, GCS, Azure): a server-side copy of the completed temporary object to the
  final key, then deletion of the temporary one (the comment in `write_atomically` says why
  not a direct write to the final key);
* other fsspec filesystems: their ``mv`` (a rename where the store has one, e.g. SFTP; copy and
  delete for ``memory://``).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import socket
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from raystra_io._paths import is_object_store

__all__ = ["TEMP_MARKER", "is_temp_name", "sweep_orphans", "temp_sibling", "write_atomically"]

TEMP_MARKER = ".tmp-"
# This host's name, safe in a file name ("-" separates the fields of a temporary name).
_HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def temp_sibling(path: str) -> str:
    """A fresh temporary path beside ``path``, naming the process that writes it.

    The leading ``_`` makes Arrow, Spark and Dask dataset discovery skip the file, and the
    ``.tmp-<host>-<pid>-<hex>`` suffix keeps it out of ``*.parquet`` globs (polars), so a
    reader of a partitioned directory never sees a write in progress or one a killed step left
    behind; the host and pid let the next write of the same path remove what a dead process
    left (`sweep_orphans`).

    Example:
        >>> temp_sibling("/data/raw/orders.parquet").startswith("/data/raw/_orders.parquet.tmp-")
        True
    """
    parent, name = posixpath.split(path)
    owner = f"{_HOST}-{os.getpid()}"
    return posixpath.join(parent, f"_{name}{TEMP_MARKER}{owner}-{uuid.uuid4().hex}")


def _owner(temp_name: str) -> tuple[str, int] | None:
    """(host, pid) a temporary file name records, or None for names without one."""
    suffix = posixpath.basename(temp_name).rpartition(TEMP_MARKER)[2]
    host, _, rest = suffix.rpartition("-")[0].rpartition("-")
    pid = rest
    if not host or not pid.isdigit():
        return None
    return host, int(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(fs: Any, path: str) -> list[str]:
    """Remove temporary siblings of ``path`` left by dead processes of this host; their paths.

    A worker killed mid-write (OOM, SIGKILL) cannot clean up; the attempt that writes the same
    path next does. Only local filesystems are swept (a listing per write would cost a request
    on object stores, where orphans are skipped by readers; an expiry rule on the ``_*.tmp-*``
    prefix removes them), and only files whose writer is known dead, never a write in flight.
    """
    parent, name = posixpath.split(path)
    prefix = f"_{name}{TEMP_MARKER}"
    removed: list[str] = []
    try:
        siblings = fs.ls(parent, detail=False)
    except FileNotFoundError:
        return removed
    for sibling in siblings:
        if not posixpath.basename(sibling).startswith(prefix):
            continue
        owner = _owner(sibling)
        if owner is None or owner[0] != _HOST or _alive(owner[1]):
            continue
        with contextlib.suppress(FileNotFoundError):
            fs.rm(sibling, recursive=True)
            removed.append(sibling)
    return removed


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
    sweep: bool = False,
) -> int:
    """Call ``write(temp_path)``, then commit the file at ``path``; return its size in bytes.

    The commit is a rename on local disk and a server-side copy on object stores (see the
    module docstring). If ``write`` (or the commit) raises, the temporary file is removed and
    the error re-raised, so ``path`` keeps its previous value; a store's own error (an
    `OSError`) gets a note naming the URL. Only after the commit are the ``replaces`` paths
    (the same output stored in another format) deleted, so some complete value is always
    readable.

    Args:
        fs: The fsspec filesystem holding ``path``.
        path: The final path.
        write: Writes the complete value to the path it is given.
        replaces: Stale paths to delete once the new value is committed; missing ones are fine.
        sweep: After committing, remove temporary siblings dead writers left (`sweep_orphans`):
            pass it when an earlier attempt of the write was killed. Not on every write: it
            lists the directory, which costs per file in it.

    Example:
        >>> import fsspec
        >>> fs = fsspec.filesystem("memory")
        >>> write_atomically(fs, "/doc/a.txt", lambda tmp: fs.pipe_file(tmp, b"hello"))
        5
    """
    object_store = is_object_store(fs)
    if not object_store:
        # Object stores have no directories, and s3fs's makedirs would create a missing bucket
        # instead of letting the write fail with "bucket does not exist".
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
    temp = temp_sibling(path)
    try:
        write(temp)
        size = int(fs.size(temp))
        if object_store:
            # S3 has no rename, but a PUT (or a completed multipart upload) and a CopyObject
            # each make an object appear at its key whole or not at all. Writing straight to
            # the final key is still wrong: fsspec's buffered file uploads whatever was written
            # when it is closed by an exception, so a serialiser failing half-way would replace
            # the previous value with a truncated one. Hence a complete temporary object first,
            # then one server-side copy (no second upload); the copy is the commit point.
            fs.cp_file(temp, path)
        else:
            # Local rename is atomic; other stores use their own move.
            fs.mv(temp, path)
    except BaseException as err:
        if isinstance(err, OSError):
            # A store's errors (no such bucket, access denied) rarely say which object; the
            # URL names it. Storage options (credentials) are never part of it.
            err.add_note(f"While writing {fs.unstrip_protocol(path)}; any previous value is kept.")
        # Cleanup must not hide the write's own error (e.g. a store that is unreachable).
        with contextlib.suppress(Exception):
            if fs.exists(temp):
                fs.rm(temp)
        raise
    if object_store:
        # Committed: a temporary object that cannot be removed now is only an orphan that
        # readers skip, not a failed write.
        with contextlib.suppress(Exception):
            fs.rm_file(temp)
    elif sweep:
        with contextlib.suppress(Exception):  # tidying up must never fail a committed write
            sweep_orphans(fs, path)
    for stale in replaces:
        with contextlib.suppress(FileNotFoundError):
            fs.rm(stale)
    return size
