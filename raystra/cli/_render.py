"""Consoles, time and duration formats, and the status colours every command shares."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import TextIO

from rich.console import Console
from rich.text import Text

__all__ = [
    "STATUS_STYLES",
    "error_console",
    "format_duration",
    "format_time",
    "output_console",
    "short_id",
    "status_text",
]

STATUS_STYLES = {
    "SUCCESS": "green",
    "FAILURE": "bold red",
    "CANCELED": "yellow",
    "STARTED": "cyan",
    "IN_PROGRESS": "cyan",
    "QUEUED": "dim",
    "SKIPPED": "yellow",
    "NOT_STARTED": "dim",
}

# Without a terminal (CI logs, pipes) rich would wrap at 80 columns; log lines read better long.
_PIPE_WIDTH = 200


def _console(file: TextIO) -> Console:
    # Bind the stream now: while a step runs in this process, its stdout is redirected into the
    # step's log, and a console that looked up sys.stdout late would write into that log.
    is_tty = file.isatty()
    width = None if is_tty or os.environ.get("COLUMNS") else _PIPE_WIDTH
    return Console(file=file, width=width, highlight=False, emoji=False, soft_wrap=False)


def output_console() -> Console:
    """A console on the current stdout."""
    return _console(sys.stdout)


def error_console() -> Console:
    """A console on the current stderr."""
    return _console(sys.stderr)


def format_time(timestamp: float | None) -> str:
    """Local time to the second, ISO style: ``2024-03-01 14:05:09`` (``-`` when unknown).

    Example:
        >>> format_time(None)
        '-'
    """
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp).isoformat(sep=" ", timespec="seconds")


def format_duration(seconds: float | None) -> str:
    """A human duration: ``12ms``, ``1.2s``, ``3m 04s``, ``2h 05m`` (``-`` when unknown).

    Example:
        >>> format_duration(1.23), format_duration(184), format_duration(0.012)
        ('1.2s', '3m 04s', '12ms')
    """
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{max(seconds, 0) * 1000:.0f}ms"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def short_id(run_id: str | None) -> str:
    """The first 8 characters of a run id, which every ``runs`` command accepts as a prefix."""
    return run_id[:8] if run_id else "-"


def status_text(status: str) -> Text:
    """A status name in its colour."""
    return Text(status, style=STATUS_STYLES.get(status, ""))
