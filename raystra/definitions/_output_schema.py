"""Declared output schemas: a pyarrow schema, or a pydantic model describing one row.

Validated once, where the asset is defined: a pydantic model becomes an Arrow schema here, so an
annotation with no Arrow type fails when the module loads, naming the field. pyarrow is imported
only when a schema is declared (``import raystra`` stays light).
"""

from __future__ import annotations

import datetime
import enum
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import pydantic

from raystra.errors import InvalidDefinitionError, RaystraError

__all__ = ["DeclaredSchema", "ExtraColumns", "OutputSchemaError", "declare_output_schema"]

ExtraColumns = Literal["forbid", "allow"]


class OutputSchemaError(RaystraError):
    """An output did not match its declared ``output_schema``; nothing was stored.

    The message is a column-by-column diff (expected vs found) naming the asset and partition.

    Example:
        >>> raise OutputSchemaError("asset 'orders': column 'amount' expected double, found int64")
        Traceback (most recent call last):
        ...
        raystra.definitions._output_schema.OutputSchemaError: asset 'orders': column ...
    """


@dataclass(frozen=True)
class DeclaredSchema:
    """An output's declared schema, ready to check: the Arrow schema and the extra-column rule.

    Example:
        >>> import pyarrow as pa
        >>> declared = declare_output_schema(pa.schema([("id", pa.int64())]), where="asset 'a'")
        >>> declared.schema.names, declared.extra, declared.source
        (['id'], 'forbid', 'pyarrow schema')
    """

    schema: Any  # a pyarrow.Schema
    extra: ExtraColumns = "forbid"
    source: str = "pyarrow schema"  # what the user declared, for messages


def declare_output_schema(
    declared: Any, *, where: str, extra: str = "forbid"
) -> DeclaredSchema | None:
    """Validate an ``output_schema=`` argument; None when nothing was declared.

    Raises:
        InvalidDefinitionError: ``declared`` is neither a pyarrow schema nor a pydantic model
            class, a model field has no Arrow type, or ``extra`` is not "forbid"/"allow".
    """
    if extra not in ("forbid", "allow"):
        raise InvalidDefinitionError(
            f"{where}: output_schema_extra must be 'forbid' (extra columns fail the check) or "
            f"'allow', got {extra!r}."
        )
    if declared is None:
        return None
    checked: ExtraColumns = "allow" if extra == "allow" else "forbid"
    if _is_pyarrow_schema(declared):
        return DeclaredSchema(declared, checked)
    if isinstance(declared, type) and issubclass(declared, pydantic.BaseModel):
        schema = model_to_arrow_schema(declared, where=where)
        return DeclaredSchema(schema, checked, f"pydantic model {declared.__name__}")
    hint = ""
    if isinstance(declared, pydantic.BaseModel):
        hint = f" Pass the class {type(declared).__name__}, not an instance."
    elif isinstance(declared, list | tuple):
        hint = " Wrap the fields in pa.schema([...])."
    raise InvalidDefinitionError(
        f"{where}: output_schema must be a pyarrow schema (pa.schema([('id', pa.int64())])) or "
        f"a pydantic BaseModel subclass describing one row, got {declared!r}.{hint}"
    )


def _is_pyarrow_schema(value: Any) -> bool:
    # Compare by name first: a value that is no pyarrow object never imports pyarrow.
    if type(value).__module__.partition(".")[0] != "pyarrow":
        return False
    import pyarrow as pa

    return isinstance(value, pa.Schema)


def model_to_arrow_schema(model: type[pydantic.BaseModel], *, where: str) -> Any:
    """The Arrow schema of a table whose rows are ``model``: one column per field.

    ``Optional[X]`` (or ``X | None``) columns are nullable, others are not; nested models
    become structs, ``list[X]`` lists and ``dict[K, V]`` maps.

    Example:
        >>> class Order(pydantic.BaseModel):
        ...     id: int
        ...     note: str | None
        >>> print(model_to_arrow_schema(Order, where="asset 'orders'"))
        id: int64 not null
        note: string
    """
    import pyarrow as pa

    return pa.schema(_model_fields(model, where=where, path=""))


def _model_fields(model: type[pydantic.BaseModel], *, where: str, path: str) -> list[Any]:
    import pyarrow as pa

    fields = []
    for name, info in model.model_fields.items():
        arrow_type, nullable = _arrow_type(info.annotation, where=where, field=f"{path}{name}")
        fields.append(pa.field(name, arrow_type, nullable=nullable))
    return fields


_SCALARS: dict[Any, str] = {
    str: "string",
    int: "int64",
    float: "float64",
    bool: "bool_",
    bytes: "binary",
    datetime.date: "date32",
}


def _arrow_type(annotation: Any, *, where: str, field: str) -> tuple[Any, bool]:
    """(Arrow type, nullable) for one field annotation."""
    import pyarrow as pa

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _arrow_type(args[0], where=where, field=field)
    if origin is typing.Union or origin is types.UnionType:
        present = [arg for arg in args if arg is not type(None)]
        if len(present) == 1:
            return _arrow_type(present[0], where=where, field=field)[0], True
    elif annotation in _SCALARS:
        return getattr(pa, _SCALARS[annotation])(), False
    elif annotation is datetime.datetime:
        # Naive: a pydantic datetime says nothing about zones. Declare pa.timestamp("us",
        # tz="UTC") in a pyarrow schema for zone-aware columns.
        return pa.timestamp("us"), False
    elif annotation is datetime.time:
        return pa.time64("us"), False
    elif annotation is datetime.timedelta:
        return pa.duration("us"), False
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        for base in (str, int):
            if issubclass(annotation, base):
                return _arrow_type(base, where=where, field=field)
    elif origin is Literal and len({type(arg) for arg in args}) == 1:
        return _arrow_type(type(args[0]), where=where, field=field)
    elif isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return pa.struct(_model_fields(annotation, where=where, path=f"{field}.")), False
    elif origin is list and len(args) == 1:
        item, nullable = _arrow_type(args[0], where=where, field=f"{field}[]")
        return pa.list_(pa.field("item", item, nullable=nullable)), False
    elif origin is dict and len(args) == 2:
        key, _ = _arrow_type(args[0], where=where, field=f"{field} key")
        value, nullable = _arrow_type(args[1], where=where, field=f"{field} value")
        return pa.map_(key, pa.field("value", value, nullable=nullable)), False
    raise InvalidDefinitionError(
        f"{where}: output_schema field {field!r} is annotated {_describe(annotation)}, which "
        "has no Arrow column type. Supported: str, int, float, bool, bytes, datetime, date, "
        "time, timedelta, str/int enums and Literals, nested models, list[X], dict[K, V], and "
        "Optional of these. For other types (e.g. Decimal) declare a pyarrow schema instead."
    )


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return repr(annotation)
