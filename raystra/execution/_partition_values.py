"""Values over several partitions: splitting a range step's output, combining an input's parts.

Tables (pyarrow, pandas, polars) spanning several partitions carry a partition column
(``partition``, or one column per dimension of a multi-partition key) so they travel as one
table; anything else travels as a dict keyed by partition key. The dataframe libraries are
imported only when such a value shows up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from raystra.definitions._partitions import MultiPartitionsDefinition, PartitionsDefinition
from raystra.errors import RaystraError

__all__ = [
    "PARTITION_COLUMN",
    "combine_partitions",
    "partition_columns",
    "split_partitions",
    "splits_by_itself",
]

PARTITION_COLUMN = "partition"


def _library(value: Any) -> str | None:
    module = type(value).__module__.split(".")[0]
    if module == "pyarrow" and type(value).__name__ == "Table":
        return "pyarrow"
    if module == "pandas" and type(value).__name__ == "DataFrame":
        return "pandas"
    if module == "polars" and type(value).__name__ == "DataFrame":
        return "polars"
    return None


def partition_columns(definition: PartitionsDefinition | None, key: str) -> dict[str, str]:
    """Column name -> value identifying partition ``key`` inside a combined table.

    Example:
        >>> partition_columns(None, "2024-01-01")
        {'partition': '2024-01-01'}
    """
    if isinstance(definition, MultiPartitionsDefinition):
        # Sorted by dimension name: the order the dimension keys are joined in.
        return dict(sorted(definition.to_multi_key(key).keys_by_dimension.items()))
    return {PARTITION_COLUMN: key}


def combine_partitions(parts: Mapping[str, Any], definition: PartitionsDefinition | None) -> Any:
    """One value for an input reading several upstream partitions (in ``parts`` order).

    A single partition arrives as itself; several tables of one library become one table with
    partition column(s); anything else becomes ``{partition key: value}``.
    """
    if len(parts) == 1:
        return next(iter(parts.values()))
    libraries = {_library(value) for value in parts.values()}
    if len(libraries) != 1 or None in libraries:
        return dict(parts)
    library = libraries.pop()
    labelled = [
        _with_columns(library, value, partition_columns(definition, key))
        for key, value in parts.items()
    ]
    if library == "pyarrow":
        import pyarrow as pa

        return pa.concat_tables(labelled, promote_options="default")
    if library == "pandas":
        import pandas as pd

        return pd.concat(labelled, ignore_index=True)
    import polars as pl

    return pl.concat(labelled, how="diagonal_relaxed")


def _with_columns(library: str | None, table: Any, columns: Mapping[str, str]) -> Any:
    if library == "pyarrow":
        import pyarrow as pa

        for name, value in columns.items():
            if name in table.column_names:
                table = table.drop_columns([name])
            table = table.append_column(name, pa.array([value] * table.num_rows, pa.string()))
        return table
    if library == "pandas":
        return table.assign(**columns)
    import polars as pl

    return table.with_columns([pl.lit(value).alias(name) for name, value in columns.items()])


def split_partitions(
    value: Any,
    keys: Sequence[str],
    definition: PartitionsDefinition | None,
    *,
    asset: str,
) -> dict[str, Any]:
    """The per-partition values of a step covering ``keys``.

    A step for one partition returns its value as-is. A step covering a range returns either
    a dict keyed by partition key, or a table with the partition column(s), which is split
    (the column is dropped: the storage path names the partition).
    """
    if len(keys) == 1 and not (isinstance(value, Mapping) and set(value) == {keys[0]}):
        return {keys[0]: value}
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(keys))
        if unknown:
            raise RaystraError(
                f"Asset {asset!r} returned values for partitions {unknown[:5]} that this step "
                f"does not cover (it covers {keys[0]!r} to {keys[-1]!r}). Return a dict keyed "
                "by context.partition_keys."
            )
        return {key: value[key] for key in keys if key in value}
    library = _library(value)
    columns = list(partition_columns(definition, keys[0]))
    if library is not None and all(c in _column_names(library, value) for c in columns):
        return _split_table(library, value, keys, definition, columns)
    raise RaystraError(
        f"Asset {asset!r} runs for {len(keys)} partitions in one step ({keys[0]!r} to "
        f"{keys[-1]!r}) but returned {type(value).__name__}, which raystra cannot split into "
        f"partitions and its IO manager cannot store in one write. Return a dict keyed by "
        f"partition key, or a table (pyarrow, pandas, polars; Spark with the default IO "
        f"manager) with column(s) {columns} naming each row's partition."
    )


def splits_by_itself(value: Any, key: str, definition: PartitionsDefinition | None) -> bool:
    """True when raystra splits ``value`` by partition itself: a dict keyed by partition key,
    or a pyarrow/pandas/polars table with the partition column(s) (``key`` is one partition,
    for the column names). Other values of a range step, such as a Spark DataFrame, go whole
    to the IO manager (``handle_output_partitions``).

    Example:
        >>> splits_by_itself({"2024-01-01": 1}, "2024-01-01", None)
        True
        >>> splits_by_itself([1, 2], "2024-01-01", None)
        False
    """
    if isinstance(value, Mapping):
        return True
    library = _library(value)
    columns = partition_columns(definition, key)
    return library is not None and all(c in _column_names(library, value) for c in columns)


def _column_names(library: str, table: Any) -> list[str]:
    return list(table.column_names if library == "pyarrow" else table.columns)


def _split_table(
    library: str,
    table: Any,
    keys: Sequence[str],
    definition: PartitionsDefinition | None,
    columns: list[str],
) -> dict[str, Any]:
    if library == "pyarrow":
        import pyarrow.compute as pc

        label = _labels_pyarrow(table, columns)
        rest = table.drop_columns(columns)
        return {key: rest.filter(pc.equal(label, key)) for key in keys}
    if library == "pandas":
        label = table[columns].astype(str).agg("|".join, axis=1)
        rest = table.drop(columns=columns)
        return {key: rest[label == key].reset_index(drop=True) for key in keys}
    import polars as pl

    label_expr = pl.concat_str([pl.col(c).cast(pl.String) for c in columns], separator="|")
    labelled = table.with_columns(label_expr.alias("__raystra_partition"))
    return {
        key: labelled.filter(pl.col("__raystra_partition") == key).drop(
            [*columns, "__raystra_partition"]
        )
        for key in keys
    }


def _labels_pyarrow(table: Any, columns: list[str]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [pc.cast(table.column(c), pa.string()) for c in columns]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "|")
