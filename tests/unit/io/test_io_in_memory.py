"""The reference InMemoryIOManager against the shared suite, to keep the suite honest.

It keeps Python objects as they are (no files, no conversions), so the on-disk parts of the
suite are switched off by class flags.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from raystra.definitions import InMemoryIOManager, IOManager
from raystra.testing.io_manager_suite import IOManagerConformance


class TestInMemory(IOManagerConformance):
    converts_tables = False
    persists = False
    reports_table_metadata = False

    @pytest.fixture
    def io_manager(self, tmp_path: Path) -> IOManager:
        return InMemoryIOManager()
