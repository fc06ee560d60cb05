"""Where stored outputs live: the base location and the one function that knows the layout.

Layout under the base path (any fsspec URL, or a plain local path)::

    <base>/raw/orders.parquet                          asset raw/orders
    <base>/raw/orders/partition=2024-03-01/data.parquet  one partition of it (hive style)
    <base>/runs/<run_id>/<step_key>/<output_name>.pkl   an op output, scoped to its run
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import fsspec

from raystra.definitions import OutputContext, raystra_home

__all__ = [
    "OBJECT_STORE_PROTOCOLS",
    "RAYSTRA_HOME_ENV",
    "StorageRoot",
    "default_base_path",
    "is_object_store",
    "output_path",
    "partitions_dir",
]

RAYSTRA_HOME_ENV = "RAYSTRA_HOME"

# fsspec protocols of object stores: flat key spaces with no directories and no rename, where a
# single upload or server-side copy is what makes an object appear, whole, at its key.
OBJECT_STORE_PROTOCOLS = frozenset(
    {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oci", "oss", "cos", "tos", "r2"}
)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def is_object_store(fs: Any) -> bool:
    """True when ``fs`` (an fsspec filesystem) is an object store such as S3, GCS or Azure.

    Example:
        >>> import fsspec
        >>> is_object_store(fsspec.filesystem("memory"))
        False
    """
    return not OBJECT_STORE_PROTOCOLS.isdisjoint(_protocols(fs))


def default_base_path() -> str:
    """``$RAYSTRA_HOME/storage``, with ``RAYSTRA_HOME`` defaulting to ``~/.raystra``.

    Read on every call, so the variable set where the step runs (a Ray worker) is the one used.

    Example:
        >>> default_base_path().endswith("storage")
        True
    """
    return posixpath.join(str(raystra_home()), "storage")


def _segment(text: str) -> str:
    # Percent-encoding is what Arrow's hive partitioning decodes by default
    # (segment_encoding="uri"), and it keeps "/" in a partition or step key from adding a level.
    return quote(text, safe="")


def output_path(root: str, context: OutputContext, ext: str) -> str:
    """The path of the stored value for ``context``, under ``root``, with extension ``ext``.

    This is the only place that knows the storage layout.

    Example:
        >>> from raystra.definitions import AssetKey
        >>> key = AssetKey(["raw", "orders"])
        >>> ctx = OutputContext(run_id="r1", step_key="raw/orders", asset_key=key)
        >>> output_path("/data", ctx, "parquet")
        '/data/raw/orders.parquet'
    """
    if context.asset_key is not None:
        # Asset key parts are validated names (letters, digits, underscores): safe as-is.
        parts = list(context.asset_key.path)
    else:
        parts = [_segment(part) for part in context.identity()]
    if context.partition_key is not None:
        # One directory per dimension (``date=.../region=...``) for multi-partitions.
        dims = context.partition_dimensions or {"partition": context.partition_key}
        parts += [f"{dim}={_segment(key)}" for dim, key in dims.items()]
        parts.append("data")
    return f"{root.rstrip('/')}/{'/'.join(parts)}.{ext}"


def partitions_dir(root: str, context: OutputContext) -> str:
    """The directory holding every partition of ``context``'s asset (the Hive dataset root).

    Example:
        >>> from raystra.definitions import AssetKey
        >>> ctx = OutputContext(
        ...     run_id="r1", step_key="s", asset_key=AssetKey(["raw", "orders"]), partition_key="k"
        ... )
        >>> partitions_dir("/data", ctx)
        '/data/raw/orders'
    """
    assert context.asset_key is not None, "only assets are partitioned"
    return f"{root.rstrip('/')}/{'/'.join(context.asset_key.path)}"


@dataclass(frozen=True)
class StorageRoot:
    """A resolved base location: the fsspec filesystem and the root path inside it.

    Example:
        >>> root = StorageRoot.resolve("memory://docs-example")
        >>> root.url(root.root + "/orders.parquet")
        'memory:///docs-example/orders.parquet'
    """

    fs: Any  # fsspec.AbstractFileSystem (fsspec ships no type information)
    root: str

    @classmethod
    def resolve(
        cls, base_path: str | None, storage_options: Mapping[str, Any] | None = None
    ) -> StorageRoot:
        """Resolve ``base_path`` (default `default_base_path`) with fsspec's ``url_to_fs``."""
        fs, root = fsspec.core.url_to_fs(
            base_path or default_base_path(), **(storage_options or {})
        )
        return cls(fs=fs, root=str(root))

    @property
    def is_local(self) -> bool:
        """True when the filesystem is the local disk."""
        return "file" in _protocols(self.fs)

    def path(self, context: OutputContext, ext: str) -> str:
        """The filesystem path of ``context``'s stored value (see `output_path`)."""
        return output_path(self.root, context, ext)

    def partitions_dir(self, context: OutputContext) -> str:
        """The directory holding the partitions of ``context``'s asset (see `partitions_dir`)."""
        return partitions_dir(self.root, context)

    def url(self, path: str) -> str:
        """``path`` as users and other engines see it: plain for local disk, else a full URL."""
        return path if self.is_local else str(self.fs.unstrip_protocol(path))
