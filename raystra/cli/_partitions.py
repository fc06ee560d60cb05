"""``raystra partitions add|remove|list NAME``: the keys of a `DynamicPartitionsDefinition`.

The keys live in run storage. When the definitions can be found (-m/-f or ``[tool.raystra]``),
NAME must be the name of a dynamic partitions definition some asset uses, so a typo does not
quietly create a new set of keys; without definitions the commands work on storage alone.
"""

from __future__ import annotations

import tomllib
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from raystra.cli._loading import (
    AttributeOption,
    DefinitionsTarget,
    FileOption,
    ModuleOption,
    find_definitions,
    load_definitions,
)
from raystra.cli._render import output_console
from raystra.definitions import Definitions
from raystra.definitions._partitions import DynamicPartitionsDefinition, MultiPartitionsDefinition
from raystra.definitions._partitions._base import check_key_chars, close_keys, quote_keys
from raystra.errors import PartitionKeyError, RaystraError
from raystra.storage import open_storage

__all__ = ["app", "dynamic_partitions_names"]

app = typer.Typer(
    help="Add, remove and list the keys of dynamic partitions (DynamicPartitionsDefinition).",
    no_args_is_help=True,
)

NameArgument = Annotated[
    str,
    typer.Argument(
        metavar="NAME", help="The name given to DynamicPartitionsDefinition(NAME) in your code."
    ),
]
KeysArgument = Annotated[list[str], typer.Argument(metavar="KEY...", help="Partition keys.")]


@app.command("add")
def add(
    ctx: typer.Context,
    name: NameArgument,
    keys: KeysArgument,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Add keys (ones already there are kept as they are)."""
    _check_name(ctx, name, module, file, attribute)
    where = f"raystra partitions add {name}"
    checked = [check_key_chars(key, where=where, error=PartitionKeyError) for key in keys]
    with closing(open_storage()) as store:
        added = store.add_dynamic_partitions(name, checked)
        now = len(store.get_dynamic_partitions(name))
    console = output_console()
    kept = [key for key in dict.fromkeys(checked) if key not in added]
    message = f"Added {len(added)} key(s) to dynamic partitions {name!r}"
    message += f": {', '.join(added)}." if added else "."
    if kept:
        message += f" Already there: {', '.join(kept)}."
    console.print(Text(f"{message} It has {now} key(s) now."))


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: NameArgument,
    keys: KeysArgument,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """Remove keys; materialized data of those partitions stays where it is."""
    _check_name(ctx, name, module, file, attribute)
    with closing(open_storage()) as store:
        existing = store.get_dynamic_partitions(name)
        unknown = [key for key in keys if key not in set(existing)]
        if unknown:
            nearest = close_keys(unknown[0], existing)
            near = f" Nearest keys: {quote_keys(nearest)}." if nearest else ""
            raise PartitionKeyError(
                f"Dynamic partitions {name!r} has no key{'s' if len(unknown) > 1 else ''} "
                f"{quote_keys(unknown)} "
                f"({len(existing)} keys in all), so nothing was removed.{near} See them with: "
                f"raystra partitions list {name}"
            )
        removed = store.remove_dynamic_partitions(name, keys)
        now = len(store.get_dynamic_partitions(name))
    output_console().print(
        Text(
            f"Removed {len(removed)} key(s) from dynamic partitions {name!r}: "
            f"{', '.join(removed)}. It has {now} key(s) now."
        )
    )


@app.command("list")
def list_keys(
    ctx: typer.Context,
    name: NameArgument,
    module: ModuleOption = None,
    file: FileOption = None,
    attribute: AttributeOption = None,
) -> None:
    """List the keys, in the order they were added."""
    _check_name(ctx, name, module, file, attribute)
    with closing(open_storage()) as store:
        keys = store.get_dynamic_partitions(name)
    console = output_console()
    if not keys:
        console.print(
            f"Dynamic partitions {name!r} has no keys yet. Add some with: raystra partitions "
            f"add {name} KEY...",
            markup=False,
        )
        return
    console.print(Text(f"Dynamic partitions {name!r}: {len(keys)} key(s)", style="bold"))
    for key in keys:
        console.print(key, markup=False)


def _check_name(
    ctx: typer.Context,
    name: str,
    module: str | None,
    file: Path | None,
    attribute: str | None,
) -> None:
    """Refuse a NAME that no asset of the definitions uses (when there are definitions)."""
    base = ctx.obj if isinstance(ctx.obj, DefinitionsTarget) else DefinitionsTarget()
    target = base.overridden_by(module, file, attribute)
    if target.module is None and target.file is None and not _project_configured(Path.cwd()):
        return
    found = find_definitions(target)
    names = dynamic_partitions_names(load_definitions(found))
    if name in names:
        return
    where = found.describe()
    if not names:
        raise RaystraError(
            f"No asset in {where} uses a DynamicPartitionsDefinition, so {name!r} names no "
            "dynamic partitions. Give an asset partitions_def=DynamicPartitionsDefinition"
            f"({name!r}) first."
        )
    used = "; ".join(f"{n!r} (asset {', '.join(names[n][:3])})" for n in sorted(names))
    nearest = close_keys(name, sorted(names), n=1)
    hint = f" Did you mean {nearest[0]!r}?" if nearest and len(names) > 1 else ""
    raise RaystraError(
        f"No asset in {where} uses DynamicPartitionsDefinition({name!r}); the dynamic "
        f"partitions its assets use: {used}.{hint}"
    )


def dynamic_partitions_names(defs: Definitions) -> dict[str, list[str]]:
    """Name of each `DynamicPartitionsDefinition` the assets use -> those assets' keys.

    Example:
        >>> dynamic_partitions_names(Definitions([]))
        {}
    """
    names: dict[str, list[str]] = {}
    for key in defs.topological_keys:
        definition = defs.partitions_def_for(key)
        dims = (
            list(definition.partitions_defs.values())
            if isinstance(definition, MultiPartitionsDefinition)
            else [definition]
        )
        for dim in dims:
            if isinstance(dim, DynamicPartitionsDefinition):
                names.setdefault(dim.name, []).append(key.to_user_string())
    return names


def _project_configured(cwd: Path) -> bool:
    """True when a pyproject.toml here or above has a [tool.raystra] table (or is unreadable)."""
    for folder in (cwd.resolve(), *cwd.resolve().parents):
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return True  # let the loader report it
        if isinstance(data.get("tool", {}).get("raystra"), dict):
            return True
    return False
