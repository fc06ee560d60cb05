"""Recognising pyarrow, pandas and polars tables and converting between them through Arrow.

pandas and polars are optional: they are recognised by module and class name, and imported
only to build one of their frames, so storing a pyarrow table never imports them.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import pyarrow as pa

__all__ = [
    "PYTHON_TYPE_KEY",
    "TableKind",
    "convert",
    "from_arrow",
    "kind_of_object",
    "kind_of_type",
    "stored_kind",
    "table_shape",
    "to_arrow",
]

TableKind = Literal["pyarrow", "pandas", "polars"]

PYTHON_TYPE_KEY = b"raystra.python_type"
"""Parquet schema metadata key recording which library produced a stored table."""

_TABLE_CLASSES: dict[tuple[str, str], TableKind] = {
    ("pyarrow", "Table"): "pyarrow",
    ("pandas", "DataFrame"): "pandas",
    ("polars", "DataFrame"): "polars",
}


def kind_of_type(tp: object) -> TableKind | None:
    """The table kind a type annotation asks for, or None if it is not a known table class.

    Compares top-level module and qualified name, so checking for ``pd.DataFrame`` needs no
    pandas import. Exact classes only: a subclass (e.g. a GeoDataFrame) is not converted.

    Example:
        >>> kind_of_type(pa.Table), kind_of_type(dict)
        ('pyarrow', None)
    """
    if not isinstance(tp, type):
        return None
    package = tp.__module__.partition(".")[0]
    return _TABLE_CLASSES.get((package, tp.__qualname__))


def kind_of_object(obj: object) -> TableKind | None:
    """The table kind of ``obj``, or None for any other object.

    Example:
        >>> kind_of_object(pa.table({"a": [1]})), kind_of_object({"a": [1]})
        ('pyarrow', None)
    """
    return kind_of_type(type(obj))


def table_shape(obj: Any) -> tuple[int, int]:
    """``(rows, columns)`` of a table of any known kind (all three expose ``shape``)."""
    rows, columns = obj.shape
    return int(rows), int(columns)


def to_arrow(obj: Any, kind: TableKind) -> pa.Table:
    """Convert a table of ``kind`` to a `pyarrow.Table`, tagged with its producer's kind.

    Example:
        >>> to_arrow(pa.table({"a": [1]}), "pyarrow").schema.metadata
        {b'raystra.python_type': b'pyarrow'}
    """
    if kind == "pyarrow":
        table = cast(pa.Table, obj)
    elif kind == "pandas":
        # Arrow keeps pandas' index and dtypes in its own b"pandas" metadata for the way back.
        table = pa.Table.from_pandas(obj)
    else:
        table = cast(pa.Table, obj.to_arrow())
    metadata = dict(table.schema.metadata or {})
    metadata[PYTHON_TYPE_KEY] = kind.encode()
    return table.replace_schema_metadata(metadata)


def stored_kind(table: pa.Table) -> TableKind:
    """The kind recorded in ``table``'s metadata; pyarrow for Parquet written by others."""
    recorded = (table.schema.metadata or {}).get(PYTHON_TYPE_KEY, b"pyarrow").decode()
    return cast(TableKind, recorded) if recorded in ("pyarrow", "pandas", "polars") else "pyarrow"


def from_arrow(table: pa.Table, kind: TableKind) -> Any:
    """Convert ``table`` to ``kind``, dropping raystra's metadata key.

    The pyarrow form is returned without copying data (only the schema metadata changes).

    Example:
        >>> from_arrow(to_arrow(pa.table({"a": [1]}), "pyarrow"), "pyarrow").schema.metadata
    """
    metadata = dict(table.schema.metadata or {})
    metadata.pop(PYTHON_TYPE_KEY, None)
    table = table.replace_schema_metadata(metadata or None)
    if kind == "pyarrow":
        return table
    if kind == "pandas":
        return table.to_pandas()
    import polars as pl  # optional dependency, needed only to hand out a polars frame

    return pl.from_arrow(table)


def convert(obj: Any, kind: TableKind) -> Any:
    """Return ``obj`` as ``kind`` if it is a table of another kind; anything else unchanged.

    Example:
        >>> convert({"a": 1}, "pandas")
        {'a': 1}
    """
    current = kind_of_object(obj)
    if current is None or current == kind:
        return obj
    return from_arrow(to_arrow(obj, current), kind)
