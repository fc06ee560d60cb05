"""Spark DataFrames stored and loaded by Spark itself, at the asset's Parquet location.

Registered as the ``spark`` table engine (entry point group ``raystra.table_engines``).
pyspark is imported only when a Spark frame or annotation shows up: type checks compare
module and class names.
"""

from __future__ import annotations

import contextlib
import posixpath
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from raystra.definitions import InputContext, OutputContext
from raystra_io import EngineLocation, TableEngine
from raystra_io._ranges import parquet_stats
from raystra_spark._resource import SparkResource

__all__ = ["SparkEngine", "spark_options", "spark_url"]

# Classic and Connect DataFrames: `pyspark.sql.DataFrame` is the base of the Connect class.
_FRAME_TYPES = frozenset(
    {
        ("pyspark.sql.dataframe", "DataFrame"),
        ("pyspark.sql.connect.dataframe", "DataFrame"),
        ("pyspark.sql.classic.dataframe", "DataFrame"),
    }
)
_FRAME_NAMES = frozenset(
    {f"{module}.{name}" for module, name in _FRAME_TYPES} | {"pyspark.sql.DataFrame"}
)


def _is_frame_type(tp: object) -> bool:
    if isinstance(tp, str):  # an annotation raystra could not evaluate
        return tp in _FRAME_NAMES
    return (getattr(tp, "__module__", None), getattr(tp, "__qualname__", None)) in _FRAME_TYPES


def spark_url(url: str) -> str:
    """``url`` as Spark's Hadoop filesystems name it (``s3://`` is ``s3a://`` there).

    Example:
        >>> spark_url("s3://lake/orders.parquet")
        's3a://lake/orders.parquet'
        >>> spark_url("/data/orders.parquet")
        '/data/orders.parquet'
    """
    for scheme in ("s3://", "s3n://"):
        if url.startswith(scheme):
            return "s3a://" + url[len(scheme) :]
    return url


def spark_options(storage_options: Mapping[str, Any]) -> dict[str, str]:
    """s3fs ``storage_options`` as Hadoop S3A settings, passed as read/write options.

    Example:
        >>> spark_options({"key": "k", "secret": "s", "endpoint_url": "http://127.0.0.1:9000"})
        ... # doctest: +NORMALIZE_WHITESPACE
        {'fs.s3a.access.key': 'k', 'fs.s3a.secret.key': 's',
         'fs.s3a.endpoint': 'http://127.0.0.1:9000', 'fs.s3a.path.style.access': 'true'}
    """
    options: dict[str, str] = {}
    names = {"key": "access.key", "secret": "secret.key", "token": "session.token"}
    for name, setting in names.items():
        if storage_options.get(name):
            options[f"fs.s3a.{setting}"] = str(storage_options[name])
    client_kwargs = storage_options.get("client_kwargs") or {}
    endpoint = storage_options.get("endpoint_url") or client_kwargs.get("endpoint_url")
    if endpoint:
        options["fs.s3a.endpoint"] = str(endpoint)
        options["fs.s3a.path.style.access"] = "true"  # MinIO, moto and most S3 look-alikes
    return options


def _session_for(context: InputContext | OutputContext) -> Any:
    """The step's `SparkResource` session, else the embedded server's."""
    resources = context.resources.items() if context.resources is not None else ()
    for _, resource in resources:
        if isinstance(resource, SparkResource):
            return resource.get_session()
    return SparkResource().get_session()


class SparkEngine(TableEngine):
    """Writes Spark DataFrames to the asset's Parquet path, and reads inputs annotated
    ``pyspark.sql.DataFrame`` from it, both by Spark (nothing is collected to the step).

    Example:
        >>> SparkEngine().handles_type("pyspark.sql.DataFrame")
        True
    """

    name = "spark"

    def handles_type(self, tp: object) -> bool:
        return _is_frame_type(tp)

    def handles_object(self, obj: object) -> bool:
        return any(_is_frame_type(cls) for cls in type(obj).__mro__)

    def write(
        self, obj: Any, location: EngineLocation, context: OutputContext
    ) -> Mapping[str, Any]:
        """Write ``obj`` with Spark to a temporary sibling, then swap it into place.

        Only ``location`` is replaced: for a partition, that is its own hive directory.
        """
        fs, path = location.filesystem, location.path
        parent, name = posixpath.split(path)
        temp = posixpath.join(parent, f"_{name}.tmp-{uuid.uuid4().hex}")
        temp_url = location.url[: len(location.url) - len(path)] + temp
        try:
            writer = obj.write.mode("overwrite").options(**spark_options(location.storage_options))
            writer.parquet(spark_url(temp_url))
            _swap(fs, temp, path)
        except BaseException:
            with contextlib.suppress(Exception):
                if fs.exists(temp):
                    fs.rm(temp, recursive=True)
            raise
        schema = obj.schema
        metadata: dict[str, Any] = {
            "column_count": len(schema.fields),
            "schema": [{"name": f.name, "type": f.dataType.simpleString()} for f in schema.fields],
        }
        metadata.update(parquet_stats(fs, path))
        return metadata

    def read(self, location: EngineLocation, context: InputContext) -> Any:
        """A lazy Spark DataFrame over the stored Parquet file or directory."""
        session = _session_for(context)
        reader = session.read.options(**spark_options(location.storage_options))
        return reader.parquet(spark_url(location.url))

    def column_names(self, obj: Any) -> list[str]:
        """The frame's columns (Spark analyses the plan; nothing is computed)."""
        return list(obj.columns)

    def write_partitioned(
        self,
        obj: Any,
        location: EngineLocation,
        columns: Sequence[str],
        context: OutputContext,
    ) -> Mapping[str, Any]:
        """One Spark job: ``partitionBy(*columns)`` into ``location``, with dynamic partition
        overwrite set on this write only (``partitionOverwriteMode``), not on the session."""
        writer = (
            obj.write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .options(**spark_options(location.storage_options))
            .partitionBy(*columns)
        )
        writer.parquet(spark_url(location.url))
        stored = [field for field in obj.schema.fields if field.name not in columns]
        return {
            "column_count": len(stored),
            "schema": [{"name": f.name, "type": f.dataType.simpleString()} for f in stored],
        }

    def read_partitions(
        self,
        locations: Sequence[EngineLocation],
        base: EngineLocation,
        contexts: Sequence[InputContext],
    ) -> Any:
        """One lazy Spark DataFrame over several stored partitions.

        Spark lists only those partitions' paths; ``basePath`` (the asset's directory) makes it
        add the partition column(s) from the Hive-style directory names, typed as Spark infers
        them for any partitioned dataset (a ``date`` for daily keys, a string for names).
        """
        session = _session_for(contexts[0])
        reader = session.read.options(**spark_options(base.storage_options)).option(
            "basePath", spark_url(base.url)
        )
        return reader.parquet(*(spark_url(location.url) for location in locations))

    def from_arrow(self, table: Any, context: InputContext) -> Any:
        """A Spark DataFrame of an Arrow table handed over in memory (sent over Connect)."""
        return _session_for(context).createDataFrame(table)

    def arrow_schema(self, obj: Any) -> Any:
        from pyspark.sql.pandas.types import to_arrow_schema

        try:
            return to_arrow_schema(obj.schema)
        except Exception:  # a Spark type Arrow has no equivalent for
            return None


def _swap(fs: Any, temp: str, path: str) -> None:
    """Move the directory ``temp`` to ``path``; the old value stays readable until then."""
    old = None
    if fs.exists(path):
        parent, name = posixpath.split(path)
        old = posixpath.join(parent, f"_{name}.old-{uuid.uuid4().hex}")
        fs.mv(path, old, recursive=True)
    try:
        fs.mv(temp, path, recursive=True)
    except BaseException:
        if old is not None:
            fs.mv(old, path, recursive=True)
        raise
    if old is not None:
        fs.rm(old, recursive=True)
