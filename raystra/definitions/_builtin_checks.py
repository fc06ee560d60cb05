"""Ready-made asset checks: row count bounds, null fractions and schema drift.

Each factory returns an `AssetCheckDefinition` to list in ``Definitions(asset_checks=...)``.
They read pyarrow tables, pandas and polars DataFrames (each library imported only when a
value of it arrives) and record what they measured in the result's metadata.

Example:
    >>> check = row_count_check("orders", min_rows=1)
    >>> check.check_key
    'orders:orders_row_count'
    >>> import pyarrow as pa
    >>> check(pa.table({"id": [1, 2]})).metadata["row_count"]
    2
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from raystra.definitions._asset_check import (
    AssetCheckDefinition,
    AssetCheckResult,
    AssetCheckSeverity,
    asset_check,
)
from raystra.definitions._context import AssetExecutionContext
from raystra.definitions._keys import AssetKey, CoercibleToAssetKey
from raystra.errors import InvalidDefinitionError

__all__ = ["null_fraction_check", "row_count_check", "schema_drift_check", "table_schema"]


def _key_of(asset: CoercibleToAssetKey | Any) -> AssetKey:
    keys = getattr(asset, "keys", None)
    if keys is not None and not isinstance(asset, str) and len(keys) == 1:
        return AssetKey.from_coercible(keys[0])
    return AssetKey.from_coercible(asset)


def _default_name(asset: CoercibleToAssetKey | Any, suffix: str) -> str:
    return f"{'_'.join(_key_of(asset).path)}_{suffix}"


def _library(value: Any) -> str:
    module = type(value).__module__.split(".")[0]
    if module in ("pyarrow", "pandas", "polars"):
        return module
    raise InvalidDefinitionError(
        f"Built-in asset checks read pyarrow Tables and pandas or polars DataFrames; got "
        f"{type(value).__name__}. Annotate the asset's return type as one of them, or write "
        "an @asset_check for this value."
    )


def _row_count(value: Any) -> int:
    library = _library(value)
    return int(value.num_rows) if library == "pyarrow" else len(value)


def _columns(value: Any) -> list[str]:
    library = _library(value)
    if library == "pyarrow":
        return list(value.column_names)
    return [str(column) for column in value.columns]


def _null_count(value: Any, column: str) -> int:
    library = _library(value)
    if library == "pyarrow":
        return int(value.column(column).null_count)
    if library == "pandas":
        return int(value[column].isna().sum())
    return int(value.get_column(column).null_count())


def table_schema(value: Any) -> dict[str, str]:
    """Column name -> Arrow type name of a table, as raystra's Parquet IO manager records it.

    Example:
        >>> import pyarrow as pa
        >>> table_schema(pa.table({"id": [1], "name": ["a"]}))
        {'id': 'int64', 'name': 'string'}
    """
    library = _library(value)
    if library == "pyarrow":
        schema = value.schema
    elif library == "pandas":
        import pyarrow as pa

        schema = pa.Schema.from_pandas(value, preserve_index=False)
    else:
        schema = value.to_arrow().schema
    return {field.name: str(field.type) for field in schema}


def _severity(severity: AssetCheckSeverity | str) -> AssetCheckSeverity:
    try:
        return AssetCheckSeverity(severity)
    except ValueError:
        raise InvalidDefinitionError(
            f"severity must be AssetCheckSeverity.ERROR or .WARN, got {severity!r}."
        ) from None


def row_count_check(
    asset: CoercibleToAssetKey | Any,
    *,
    min_rows: int | None = None,
    max_rows: int | None = None,
    blocking: bool = False,
    severity: AssetCheckSeverity | str = AssetCheckSeverity.ERROR,
    name: str | None = None,
) -> AssetCheckDefinition:
    """A check that the asset (each partition) has between ``min_rows`` and ``max_rows`` rows.

    Example:
        >>> import pyarrow as pa
        >>> check = row_count_check("orders", min_rows=3, severity="WARN")
        >>> result = check(pa.table({"id": [1]}))
        >>> result.passed, result.severity.value, result.metadata["row_count"]
        (False, 'WARN', 1)
    """
    if min_rows is None and max_rows is None:
        raise InvalidDefinitionError(
            f"row_count_check({_key_of(asset).to_user_string()!r}) needs min_rows=, max_rows= "
            "or both."
        )
    for label, bound in (("min_rows", min_rows), ("max_rows", max_rows)):
        if bound is not None and (not isinstance(bound, int) or bound < 0):
            raise InvalidDefinitionError(
                f"row_count_check({label}=...) must be a whole number >= 0, got {bound!r}."
            )
    if min_rows is not None and max_rows is not None and min_rows > max_rows:
        raise InvalidDefinitionError(
            f"row_count_check: min_rows={min_rows} is above max_rows={max_rows}; swap them."
        )
    level = _severity(severity)
    bounds = f"between {min_rows or 0} and {max_rows if max_rows is not None else 'any'}"

    def check_rows(value: Any) -> AssetCheckResult:
        rows = _row_count(value)
        passed = (min_rows is None or rows >= min_rows) and (max_rows is None or rows <= max_rows)
        return AssetCheckResult(
            passed=passed,
            severity=level,
            metadata={"row_count": rows, "min_rows": min_rows, "max_rows": max_rows},
            description=f"{rows} rows; expected {bounds}",
        )

    return asset_check(
        asset=asset,
        name=name or _default_name(asset, "row_count"),
        blocking=blocking,
        description=f"Row count {bounds}",
    )(check_rows)


def null_fraction_check(
    asset: CoercibleToAssetKey | Any,
    *,
    columns: Sequence[str] | None = None,
    max_fraction: float = 0.0,
    blocking: bool = False,
    severity: AssetCheckSeverity | str = AssetCheckSeverity.ERROR,
    name: str | None = None,
) -> AssetCheckDefinition:
    """A check that at most ``max_fraction`` of each column's values are null.

    ``columns`` defaults to every column. A listed column missing from the table fails the
    check (naming it). ``metadata["null_fractions"]`` holds each column's fraction.

    Example:
        >>> import pyarrow as pa
        >>> check = null_fraction_check("orders", columns=["amount"], max_fraction=0.25)
        >>> result = check(pa.table({"amount": [1.0, None]}))
        >>> result.passed, result.metadata["null_fractions"]
        (False, {'amount': 0.5})
    """
    if not isinstance(max_fraction, int | float) or not 0.0 <= max_fraction <= 1.0:
        raise InvalidDefinitionError(
            f"null_fraction_check(max_fraction=...) must be between 0 and 1, got {max_fraction!r}."
        )
    if isinstance(columns, str):
        raise InvalidDefinitionError(
            f"null_fraction_check(columns=...) takes a list of names; got the string "
            f"{columns!r}. Write columns=[{columns!r}]."
        )
    level = _severity(severity)
    wanted = list(columns) if columns is not None else None

    def check_nulls(value: Any) -> AssetCheckResult:
        present = _columns(value)
        names = wanted if wanted is not None else present
        missing = [column for column in names if column not in present]
        rows = _row_count(value)
        fractions = {
            column: (_null_count(value, column) / rows if rows else 0.0)
            for column in names
            if column in present
        }
        over = sorted(column for column, fraction in fractions.items() if fraction > max_fraction)
        problems = [f"{column} {fractions[column]:.1%} null" for column in over]
        problems += [f"column {column!r} is missing" for column in missing]
        return AssetCheckResult(
            passed=not problems,
            severity=level,
            metadata={
                "null_fractions": fractions,
                "max_fraction": max_fraction,
                "failing_columns": over + missing,
            },
            description="; ".join(problems) or f"every column at most {max_fraction:.1%} null",
        )

    return asset_check(
        asset=asset,
        name=name or _default_name(asset, "null_fraction"),
        blocking=blocking,
        description=f"Null fraction at most {max_fraction:.1%}",
    )(check_nulls)


def schema_drift_check(
    asset: CoercibleToAssetKey | Any,
    *,
    expected: Mapping[str, str] | None = None,
    blocking: bool = False,
    severity: AssetCheckSeverity | str = AssetCheckSeverity.ERROR,
    name: str | None = None,
) -> AssetCheckDefinition:
    """A check that the asset's columns and types did not change.

    With ``expected`` (column -> Arrow type name, e.g. ``{"id": "int64"}``) the table is
    compared with it. Without, it is compared with the schema recorded by the asset's
    previous materialization (an earlier run's; raystra's Parquet IO manager records one); the
    first materialization passes and becomes the baseline. ``metadata`` lists the added,
    removed and retyped columns and the schema seen.

    Example:
        >>> import pyarrow as pa
        >>> check = schema_drift_check("orders", expected={"id": "int64"})
        >>> check(None, pa.table({"id": ["a"]})).metadata["changed"]
        {'id': 'int64 -> string'}
    """
    if expected is not None and (
        not isinstance(expected, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in expected.items())
    ):
        raise InvalidDefinitionError(
            "schema_drift_check(expected=...) maps column names to Arrow type names, e.g. "
            f"{{'id': 'int64', 'name': 'string'}}; got {expected!r}."
        )
    level = _severity(severity)
    key = _key_of(asset)

    def check_schema(context: AssetExecutionContext | None, value: Any) -> AssetCheckResult:
        seen = table_schema(value)
        if expected is not None:
            baseline: dict[str, str] | None = dict(expected)
            against = "the expected schema"
        else:
            baseline = _previous_schema(key, context.run_id) if context is not None else None
            against = "the previous materialization's schema"
        metadata: dict[str, Any] = {"schema": seen}
        if baseline is None:
            return AssetCheckResult(
                passed=True,
                severity=level,
                metadata=metadata,
                description="no earlier schema recorded: this one is the baseline",
            )
        added = sorted(set(seen) - set(baseline))
        removed = sorted(set(baseline) - set(seen))
        changed = {
            column: f"{baseline[column]} -> {seen[column]}"
            for column in sorted(set(seen) & set(baseline))
            if seen[column] != baseline[column]
        }
        metadata.update(added=added, removed=removed, changed=changed)
        drift = [f"added {', '.join(added)}"] if added else []
        drift += [f"removed {', '.join(removed)}"] if removed else []
        drift += [f"{column} {change}" for column, change in changed.items()]
        return AssetCheckResult(
            passed=not drift,
            severity=level,
            metadata=metadata,
            description=(f"drift from {against}: " + "; ".join(drift))
            if drift
            else f"matches {against}",
        )

    return asset_check(
        asset=asset,
        name=name or _default_name(asset, "schema_drift"),
        blocking=blocking,
        description="Columns and types unchanged",
    )(check_schema)


def _previous_schema(key: AssetKey, run_id: str) -> dict[str, str] | None:
    """The schema recorded by the newest materialization of ``key`` made by another run.

    The run storage is found by import string, like an executor: a check runs where its step
    runs, and the definitions layer must not import storage (nor sqlalchemy) up front.
    """
    storage = importlib.import_module("raystra.storage").open_storage()
    try:
        for record in storage.get_materializations(key, limit=50):
            recorded = record.metadata.get("schema")
            if record.run_id != run_id and isinstance(recorded, list):
                return {str(f["name"]): str(f["type"]) for f in recorded}
    finally:
        storage.close()
    return None
