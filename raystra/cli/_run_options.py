"""Options shared by the commands that start runs: ``--config file`` and ``--tag k=v``."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from raystra.errors import RaystraError, RunConfigError

__all__ = [
    "ConfigOption",
    "ExecutorOption",
    "MaxConcurrentOption",
    "RayAddressOption",
    "TagOption",
    "load_run_config",
    "parse_tags",
]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help='Run config file, YAML or JSON: {"ops": {"<asset or op>": {"config": {...}}}}.',
        dir_okay=False,
    ),
]
ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor",
        "-e",
        help="ray (default; or $RAYSTRA_EXECUTOR) or in_process (one step at a time, here).",
        show_default=False,
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Attach to a Ray cluster: auto, ray://host:10001 or HOST:PORT (default "
        "$RAY_ADDRESS, else start a local Ray).",
        show_default=False,
    ),
]
MaxConcurrentOption = Annotated[
    int | None,
    typer.Option("--max-concurrent", min=1, help="Most steps of the run running at once."),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", help="Tag the run: key=value (repeatable)."),
]


def load_run_config(path: Path | None) -> dict[str, Any] | None:
    """Read a YAML (when PyYAML is installed) or JSON run config file.

    Raises:
        RunConfigError: The file is missing, unparseable, or not a mapping.
    """
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RunConfigError(f"Cannot read run config file '{path}': {err.strerror}.", []) from err
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    try:
        data = _parse_yaml(text, path) if is_yaml else json.loads(text)
    except json.JSONDecodeError as err:
        raise RunConfigError(
            f"Run config file '{path}' is not valid JSON: {err.msg} (line {err.lineno}, column "
            f"{err.colno}).",
            [],
        ) from err
    if data is None:
        return None
    if not isinstance(data, dict):
        raise RunConfigError(
            f"Run config file '{path}' holds a {type(data).__name__}; it must be a mapping like "
            '{"ops": {"my_asset": {"config": {"limit": 10}}}}.',
            [],
        )
    return data


def _parse_yaml(text: str, path: Path) -> Any:
    # Through importlib: PyYAML (a dependency) ships no type stubs.
    yaml: Any = importlib.import_module("yaml")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RunConfigError(
            f"Run config file '{path}' is not valid YAML: {' '.join(str(err).split())}.", []
        ) from err


def parse_tags(tags: list[str] | None) -> dict[str, str]:
    """``["team=data", "ticket=42"]`` -> ``{"team": "data", "ticket": "42"}``.

    Example:
        >>> parse_tags(["team=data"])
        {'team': 'data'}
    """
    parsed: dict[str, str] = {}
    for tag in tags or []:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip():
            raise RaystraError(f"Tag {tag!r} is not key=value; write e.g. --tag team=data.")
        parsed[key.strip()] = value.strip()
    return parsed
