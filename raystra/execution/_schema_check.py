"""Checking outputs against their declared ``output_schema`` before anything is stored.

The value's Arrow schema is read without converting its data: pyarrow tables and batches carry
one, pandas and polars frames give one from their dtypes, and engine frames (Spark, Dask) are
asked through the ``arrow_schema(obj)`` hook of the engines registered under the entry point
group ``raystra.table_engines``. Core raystra finds them by entry point rather than importing
raystra_io, which the layer contracts forbid; the hook is duck-typed.

Types compare after normalising representation-only differences (large/view string, binary and
list variants, dictionary encoding, timestamp/duration/time units); numeric widths and time
zones must match exactly, since the stored schema is what readers get. Nulls in a non-nullable
column are counted for in-memory tables only: a lazy engine frame would have to be computed.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from raystra.definitions._node import NodeOutput
from raystra.definitions._output_schema import DeclaredSchema, OutputSchemaError
from raystra.events import Event, OutputSchemaChecked

__all__ = ["check_output_schemas", "compare_schemas", "observe"]

_ENGINE_GROUP = "raystra.table_engines"
_MAX_FIRST_LINE = 3  # mismatches summarised on the error's first line (the CLI shows that one)


@dataclass(frozen=True)
class Observed:
    """What a value reveals about its columns: its Arrow schema and, if cheap, null counts."""

    schema: Any  # pyarrow.Schema; None when an engine cannot tell (the check is skipped)
    null_count: Callable[[str], int] | None
    note: str = ""


def observe(value: Any) -> Observed | str:
    """The value's schema, or a sentence saying why it has none.

    Example:
        >>> import pyarrow as pa
        >>> observe(pa.table({"a": [1, None]})).null_count("a")
        1
        >>> observe([1, 2])
        'a list, not a table'
    """
    module = type(value).__module__.partition(".")[0]
    name = type(value).__name__
    if module == "pyarrow" and name in ("Table", "RecordBatch"):
        return Observed(value.schema, lambda column: int(value.column(column).null_count))
    if module == "pandas" and name == "DataFrame":
        import pyarrow as pa

        # From dtypes (object columns are inspected), no conversion of the data. The index is
        # not a data column: it is not compared.
        try:
            schema = pa.Schema.from_pandas(value, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as err:
            return f"a pandas DataFrame Arrow cannot convert ({err})"
        return Observed(schema, lambda column: int(value[column].isna().sum()))
    if module == "polars" and name == "DataFrame":
        return Observed(
            value.head(0).to_arrow().schema,
            lambda column: int(value.get_column(column).null_count()),
        )
    for engine in _engines():
        if engine.handles_object(value):
            schema = getattr(engine, "arrow_schema", lambda obj: None)(value)
            label = getattr(engine, "name", "") or type(engine).__name__
            if schema is None:
                return Observed(None, None, f"not checked: the {label} engine cannot tell")
            return Observed(schema, None, f"nulls not checked: {label} frames are lazy")
    return f"a {name}, not a table"


@functools.cache
def _engines() -> tuple[Any, ...]:
    """The registered table engines (loaded once per process, only for unknown values)."""
    return tuple(entry.load()() for entry in entry_points(group=_ENGINE_GROUP))


def compare_schemas(declared: DeclaredSchema, observed: Observed) -> list[dict[str, str]]:
    """Column-by-column differences, as ``{"column", "expected", "found"}`` dicts.

    Example:
        >>> import pyarrow as pa
        >>> declared = DeclaredSchema(pa.schema([("id", pa.int64()), ("name", pa.string())]))
        >>> compare_schemas(declared, observe(pa.table({"id": [1]})))
        [{'column': 'name', 'expected': 'string', 'found': 'missing'}]
    """
    found = {field.name: field for field in observed.schema}
    mismatches: list[dict[str, str]] = []
    for field in declared.schema:
        expected = _describe(field)
        got = found.get(field.name)
        if got is None:
            found_text = "missing"
        elif not _canonical(field.type).equals(_canonical(got.type)):
            found_text = str(got.type)
        elif not field.nullable and observed.null_count is not None:
            nulls = observed.null_count(field.name)
            if not nulls:
                continue
            found_text = f"{got.type} with {nulls} null{'s' if nulls != 1 else ''}"
        else:
            continue
        mismatches.append({"column": field.name, "expected": expected, "found": found_text})
    if declared.extra == "forbid":
        declared_names = set(declared.schema.names)
        for name, field in found.items():
            if name not in declared_names:
                mismatches.append(
                    {"column": name, "expected": "not declared", "found": str(field.type)}
                )
    return mismatches


def _without(observed: Observed, columns: set[str]) -> Observed:
    schema = observed.schema
    for name in columns:
        index = schema.get_field_index(name)
        if index >= 0:
            schema = schema.remove(index)
    return dataclasses.replace(observed, schema=schema)


def _describe(field: Any) -> str:
    return str(field.type) if field.nullable else f"{field.type} not null"


def _canonical(arrow_type: Any) -> Any:
    """``arrow_type`` with representation-only choices normalised (see the module docstring)."""
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(arrow_type):
        return _canonical(arrow_type.value_type)
    if types.is_large_string(arrow_type) or types.is_string_view(arrow_type):
        return pa.string()
    if types.is_large_binary(arrow_type) or types.is_binary_view(arrow_type):
        return pa.binary()
    if (
        types.is_list(arrow_type)
        or types.is_large_list(arrow_type)
        or types.is_list_view(arrow_type)
        or types.is_large_list_view(arrow_type)
    ):
        return pa.list_(_canonical(arrow_type.value_type))
    if types.is_struct(arrow_type):
        return pa.struct([pa.field(f.name, _canonical(f.type)) for f in arrow_type])
    if types.is_map(arrow_type):
        return pa.map_(_canonical(arrow_type.key_type), _canonical(arrow_type.item_type))
    if types.is_timestamp(arrow_type):
        return pa.timestamp("us", tz=arrow_type.tz)
    if types.is_duration(arrow_type):
        return pa.duration("us")
    if types.is_time(arrow_type):
        return pa.time64("us")
    return arrow_type


def check_output_schemas(
    *,
    run_id: str,
    step_key: str,
    outputs: Sequence[tuple[NodeOutput, str | None, Any]],
    record: list[Event],
    ignored_columns: Sequence[str] = (),
) -> None:
    """Check each ``(output, partition, value)`` with a declared schema; events go to ``record``.

    Every value is checked (and recorded) before this raises, so one failure reports them all.
    ``ignored_columns`` are left out of the comparison unless the schema declares them: the
    partition columns of a frame covering a range, which are stored as directory names.

    Raises:
        OutputSchemaError: Some value did not match; its message is the diff of each.
    """
    failed: list[OutputSchemaChecked] = []
    for output, partition, value in outputs:
        declared = output.output_schema
        if declared is None:
            continue
        observed = observe(value)
        if not isinstance(observed, str) and observed.schema is not None:
            observed = _without(observed, set(ignored_columns) - set(declared.schema.names))
        note = ""
        if isinstance(observed, str):
            mismatches = [{"column": "(output)", "expected": "a table", "found": observed}]
        elif observed.schema is None:
            mismatches, note = [], observed.note
        else:
            mismatches, note = compare_schemas(declared, observed), observed.note
        event = OutputSchemaChecked(
            run_id=run_id,
            step_key=step_key,
            output_name=output.name,
            asset_key=output.asset_key,
            partition=partition,
            passed=not mismatches,
            mismatches=tuple(mismatches),
            note=note,
        )
        record.append(event)
        if mismatches:
            failed.append(event)
    if failed:
        raise OutputSchemaError(_message(failed, {o.name: o for o, _, _ in outputs}))


def _message(failed: Sequence[OutputSchemaChecked], outputs: Mapping[str, NodeOutput]) -> str:
    first = failed[0]
    summary = "; ".join(
        f"{m['column']}: expected {m['expected']}, found {m['found']}"
        for m in first.mismatches[:_MAX_FIRST_LINE]
    )
    more = len(first.mismatches) - _MAX_FIRST_LINE
    summary += f"; and {more} more" if more > 0 else ""
    lines = [f"{_where(first)} does not match its output_schema ({summary})."]
    for event in failed:
        declared = outputs[event.output_name].output_schema
        assert declared is not None  # only declared outputs are checked
        lines += ["", f"{_where(event)} vs its {declared.source}:", event.diff()]
    lines += [
        "",
        "Nothing was stored. Fix the asset's output or its output_schema"
        + (
            "; extra columns are refused unless output_schema_extra='allow'."
            if any(m["expected"] == "not declared" for e in failed for m in e.mismatches)
            else "."
        ),
    ]
    return "\n".join(lines)


def _where(event: OutputSchemaChecked) -> str:
    what = (
        f"asset {event.asset_key.to_user_string()!r}"
        if event.asset_key is not None
        else f"output {event.output_name!r} of step {event.step_key!r}"
    )
    return f"{what} partition {event.partition!r}" if event.partition is not None else what
