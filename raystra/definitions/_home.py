"""Where raystra keeps its state on this machine: ``$RAYSTRA_HOME``, else ``~/.raystra``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["raystra_home"]


def raystra_home() -> Path:
    """The directory for the run database, default storage and example files.

    Read on every call, so tests and processes can point it elsewhere with ``RAYSTRA_HOME``.

    Example:
        >>> raystra_home().name in (".raystra", os.environ.get("RAYSTRA_HOME", "").rsplit("/")[-1])
        True
    """
    home = os.environ.get("RAYSTRA_HOME")
    return Path(home).expanduser() if home else Path.home() / ".raystra"
