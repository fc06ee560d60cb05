"""Resources: where raw files land and where reports go.

Both default to folders under ``$RAYSTRA_HOME`` (read when the step runs, so a Ray worker uses its
own setting) and accept any local path, including one read from an environment variable::

    LandingZone(path=EnvVar("LANDING_DIR"))
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from raystra import ConfigurableResource

__all__ = ["LandingZone", "ReportsDir", "atomic_write_path", "raystra_home"]


def raystra_home() -> Path:
    """``$RAYSTRA_HOME``, else ``~/.raystra`` (the same place raystra keeps its own state)."""
    return Path(os.environ.get("RAYSTRA_HOME") or "~/.raystra").expanduser()


@contextmanager
def atomic_write_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only on success.

    Readers never see a half-written file, and a failed or killed step leaves ``target`` as it
    was (at worst a stray ``.tmp`` file next to it).

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "hello.txt"
        >>> with atomic_write_path(target) as tmp:
        ...     _ = tmp.write_text("hi")
        >>> target.read_text()
        'hi'
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class _HomeFolder(ConfigurableResource):
    """A folder given by ``path``, defaulting to ``$RAYSTRA_HOME/<default_name>``."""

    path: str | None = None
    default_name: ClassVar[str] = ""

    def directory(self) -> Path:
        """The folder (not created until something is written to it)."""
        return Path(self.path).expanduser() if self.path else raystra_home() / self.default_name

    def file(self, name: str) -> Path:
        """The path of the file called ``name`` in the folder."""
        return self.directory() / name


class LandingZone(_HomeFolder):
    """The folder where raw files arrive before ingestion (a local stand-in for a bucket).

    Attributes:
        path: The landing folder; default ``$RAYSTRA_HOME/landing``.

    Example:
        >>> LandingZone(path="/tmp/landing").file("orders.csv")
        PosixPath('/tmp/landing/orders.csv')
    """

    default_name: ClassVar[str] = "landing"


class ReportsDir(_HomeFolder):
    """The folder rendered reports are published to.

    Attributes:
        path: The reports folder; default ``$RAYSTRA_HOME/reports``.

    Example:
        >>> ReportsDir(path="/tmp/reports").file("revenue_report.pdf")
        PosixPath('/tmp/reports/revenue_report.pdf')
    """

    default_name: ClassVar[str] = "reports"
