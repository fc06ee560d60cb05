"""Finding the user's `Definitions`: ``-m module``, ``-f file.py`` or ``[tool.raystra]``.

Resolution order: the command's own ``-m``/``-f``, then the global ones (``raystra -m x ...``),
then the nearest ``pyproject.toml`` (current directory or a parent) with a ``[tool.raystra]``
table. Errors importing user code become one `DefinitionsLoadError` paragraph naming the
exception and the user's file and line; `RaystraError`\\ s raised while building the
definitions (a cycle, an unknown dependency) pass through unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import sysconfig
import tomllib
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

from raystra.definitions import AssetsDefinition, AssetSpec, Definitions, JobDefinition
from raystra.errors import DefinitionsLoadError, RaystraError

__all__ = [
    "AttributeOption",
    "DefinitionsTarget",
    "FileOption",
    "ModuleOption",
    "definitions_from",
    "find_definitions",
    "load_definitions",
]

ModuleOption = Annotated[
    str | None,
    typer.Option("--module", "-m", help="Python module with your definitions (importable)."),
]
FileOption = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="Python file with your definitions.", dir_okay=False),
]
AttributeOption = Annotated[
    str | None,
    typer.Option("--attribute", "-a", help="Name of the Definitions object in the module or file."),
]

_HOW_TO_POINT = (
    "Point raystra at your code with `-m my_package.definitions` (an importable module), "
    '`-f path/to/definitions.py` (a file), or add `[tool.raystra]` with `module = "..."` '
    '(or `file = "..."`) to the pyproject.toml of your project.'
)


@dataclass(frozen=True)
class DefinitionsTarget:
    """Where the definitions live: a module name or a file, and optionally an attribute."""

    module: str | None = None
    file: Path | None = None
    attribute: str | None = None
    source: str = "command line"

    def describe(self) -> str:
        """``module 'x'`` or ``file '/abs/x.py'``, for messages."""
        return f"module {self.module!r}" if self.module else f"file '{self.file}'"

    def overridden_by(
        self, module: str | None, file: Path | None, attribute: str | None
    ) -> DefinitionsTarget:
        """Command-level options override global ones; an attribute alone keeps the target."""
        if module and file:
            raise DefinitionsLoadError(
                "Pass either -m/--module or -f/--file, not both. " + _HOW_TO_POINT
            )
        if module or file:
            return DefinitionsTarget(module=module, file=file, attribute=attribute)
        if attribute:
            return DefinitionsTarget(self.module, self.file, attribute, self.source)
        return self


def find_definitions(target: DefinitionsTarget, cwd: Path | None = None) -> DefinitionsTarget:
    """Fill in the target from ``pyproject.toml`` when no module or file was given."""
    if target.file:
        return replace(target, file=target.file.expanduser().resolve())
    if target.module:
        return target
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            continue
        settings = _read_tool_table(pyproject)
        if settings is None:
            continue
        module, file = settings.get("module"), settings.get("file")
        if not isinstance(module, str | None) or not isinstance(file, str | None):
            raise DefinitionsLoadError(
                f"[tool.raystra] in {pyproject}: `module` and `file` must be strings."
            )
        if bool(module) == bool(file):
            raise DefinitionsLoadError(
                f"[tool.raystra] in {pyproject} must set exactly one of `module` and `file`. "
                + _HOW_TO_POINT
            )
        attribute = target.attribute or settings.get("attribute")
        if module:
            sys_path_prepend(folder)
        return DefinitionsTarget(
            module=module,
            file=(folder / file) if file else None,
            attribute=attribute if isinstance(attribute, str) else None,
            source=str(pyproject),
        )
    raise DefinitionsLoadError(
        f"raystra could not find your definitions: no -m/--module or -f/--file was given, and "
        f"no pyproject.toml with a [tool.raystra] table was found in {start} or its parents. "
        + _HOW_TO_POINT
    )


def definitions_from(
    ctx: typer.Context, module: str | None, file: Path | None, attribute: str | None
) -> Definitions:
    """Load the definitions a command points at: its own options, the global ones, pyproject."""
    base = ctx.obj if isinstance(ctx.obj, DefinitionsTarget) else DefinitionsTarget()
    return load_definitions(find_definitions(base.overridden_by(module, file, attribute)))


def _read_tool_table(pyproject: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise DefinitionsLoadError(f"Could not read {pyproject}: {err}.") from err
    table = data.get("tool", {}).get("raystra")
    return table if isinstance(table, dict) else None


def sys_path_prepend(folder: Path) -> None:
    """Make modules in ``folder`` importable (first, so a project's modules win)."""
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def load_definitions(target: DefinitionsTarget) -> Definitions:
    """Import the target and return its `Definitions`.

    Raises:
        DefinitionsLoadError: The module or file cannot be found or imported, or holds no
            (or several) definitions.
    """
    module = _import_file(target.file) if target.file else _import_module(target)
    if target.attribute:
        return _from_attribute(module, target)
    found = {name: v for name, v in vars(module).items() if isinstance(v, Definitions)}
    if len(found) == 1:
        return next(iter(found.values()))
    if len(found) > 1:
        names = ", ".join(sorted(found))
        raise DefinitionsLoadError(
            f"{target.describe().capitalize()} has several Definitions objects ({names}); "
            f"choose one with -a/--attribute, e.g. `-a {sorted(found)[0]}`."
        )
    return _gather(module, target)


def _import_module(target: DefinitionsTarget) -> ModuleType:
    assert target.module is not None
    # A console script does not put the working directory on sys.path; `python -m` does.
    sys_path_prepend(Path.cwd())
    importlib.invalidate_caches()  # the module may have been written after Python started
    try:
        return importlib.import_module(target.module)
    except ModuleNotFoundError as err:
        if err.name and target.module.split(".")[0] == err.name.split(".")[0]:
            raise DefinitionsLoadError(
                f"Module {target.module!r} (from {target.source}) was not found on the Python "
                f"path. Run raystra from your project's directory, install your project "
                f"(`pip install -e .`), or use -f path/to/file.py."
            ) from err
        raise _import_failed(err, target) from err
    except RaystraError:
        raise
    except (Exception, SystemExit) as err:
        raise _import_failed(err, target) from err


def _import_file(path: Path) -> ModuleType:
    file = path.expanduser().resolve()
    target = DefinitionsTarget(file=file)
    if not file.is_file():
        raise DefinitionsLoadError(
            f"Definitions file '{file}' does not exist. Check the path given to -f/--file "
            f"(or `file` in [tool.raystra]); relative paths start from {Path.cwd()}."
        )
    package_root, dotted = _package_module_name(file)
    if dotted is not None:
        # A file inside a package imports as part of it (like pytest's rootdir import), so its
        # absolute and relative imports of sibling modules work from any working directory.
        sys_path_prepend(package_root)
        return _import_module(DefinitionsTarget(module=dotted, source=str(file)))
    name = file.stem
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise DefinitionsLoadError(f"'{file}' is not a Python file raystra can import.")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    if previous is not None and _is_library_module(previous):
        raise DefinitionsLoadError(
            f"Definitions file '{file}' has the same name as the installed module {name!r}, "
            "which raystra would have to replace; rename the file."
        )
    sys_path_prepend(file.parent)  # so the file's sibling modules import
    sys.modules[name] = module  # dataclasses, pydantic and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except RaystraError:
        _restore(name, previous)
        raise
    except (Exception, SystemExit) as err:
        _restore(name, previous)
        raise _import_failed(err, target) from err
    return module


def _package_module_name(file: Path) -> tuple[Path, str | None]:
    """The folder to import from and the dotted module name, when ``file`` is in a package."""
    parts = [file.stem]
    folder = file.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) == 1:
        return file.parent, None
    return folder, ".".join(parts)


def _restore(name: str, previous: ModuleType | None) -> None:
    if previous is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = previous


def _import_failed(err: BaseException, target: DefinitionsTarget) -> DefinitionsLoadError:
    where = _user_location(err)
    at = f" at {where}" if where else ""
    detail = str(err).strip() or "(no message)"
    return DefinitionsLoadError(
        f"Importing {target.describe()} failed{at}: {type(err).__name__}: {detail}. Fix the "
        "error, or rerun with --debug to see the full traceback."
    )


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.add(str(Path(__file__).resolve().parents[1]))  # raystra itself
    return tuple(sorted(roots))


def _is_library_module(module: ModuleType) -> bool:
    path = getattr(module, "__file__", None)
    return path is None or str(Path(path).resolve()).startswith(_library_roots())


def _user_location(err: BaseException) -> str | None:
    """``file:line`` of the deepest frame in the user's code (else the deepest frame at all)."""
    if isinstance(err, SyntaxError) and err.filename:
        return f"{err.filename}:{err.lineno}"
    frames = [
        frame for frame in traceback.extract_tb(err.__traceback__) if frame.filename[:1] != "<"
    ]
    if not frames:
        return None
    libraries = _library_roots()
    own = [f for f in frames if not str(Path(f.filename).resolve()).startswith(libraries)]
    frame = (own or frames)[-1]
    return f"{frame.filename}:{frame.lineno}"


def _from_attribute(module: ModuleType, target: DefinitionsTarget) -> Definitions:
    name = target.attribute
    assert name is not None
    if not hasattr(module, name):
        found = sorted(n for n, v in vars(module).items() if isinstance(v, Definitions))
        hint = f" Definitions in it: {', '.join(found)}." if found else ""
        raise DefinitionsLoadError(
            f"{target.describe().capitalize()} has no attribute {name!r}.{hint}"
        )
    value = getattr(module, name)
    if callable(value) and not isinstance(value, Definitions | AssetsDefinition | JobDefinition):
        value = value()  # a function that builds the definitions
    if not isinstance(value, Definitions):
        raise DefinitionsLoadError(
            f"{name!r} in {target.describe()} is a {type(value).__name__}, not a Definitions "
            "object (or a function returning one)."
        )
    return value


def _gather(module: ModuleType, target: DefinitionsTarget) -> Definitions:
    """Like Dagster's ``load_assets_from_modules``: every module-level asset, spec and job."""
    assets: dict[int, AssetsDefinition | AssetSpec] = {}
    jobs: dict[int, JobDefinition] = {}
    for value in vars(module).values():
        if isinstance(value, AssetsDefinition | AssetSpec):
            assets.setdefault(id(value), value)
        elif isinstance(value, JobDefinition):
            jobs.setdefault(id(value), value)
    if not assets and not jobs:
        raise DefinitionsLoadError(
            f"{target.describe().capitalize()} defines no Definitions object, assets or jobs. "
            "Create `defs = Definitions(assets=[...])` at module level, or point raystra at "
            "another module or file."
        )
    return Definitions(list(assets.values()), jobs=jobs.values())
