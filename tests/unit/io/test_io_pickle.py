"""PickleIOManager: the shared conformance suite, and interplay with ParquetIOManager."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from raystra.definitions import IOManager
from raystra.testing.io_manager_suite import COLUMNS, IOManagerConformance, input_for, output_for
from raystra_io import ParquetIOManager, PickleIOManager


class TestPickleLocal(IOManagerConformance):
    @pytest.fixture
    def io_manager(self, tmp_path: Path) -> IOManager:
        return PickleIOManager(base_path=str(tmp_path))


def test_tables_are_pickled_with_stats(tmp_path: Path) -> None:
    metadata = PickleIOManager(base_path=str(tmp_path)).handle_output(
        output_for(), pd.DataFrame(COLUMNS)
    )
    path = tmp_path / "raw" / "orders.pkl"
    assert metadata == {
        "path": str(path),
        "format": "pickle",
        "byte_size": path.stat().st_size,
        "row_count": 3,
        "column_count": 3,
    }


def test_none_output_stores_nothing(tmp_path: Path) -> None:
    assert PickleIOManager(base_path=str(tmp_path)).handle_output(output_for(), None) == {}
    assert list(tmp_path.iterdir()) == []


def test_switching_io_manager_keeps_the_asset_loadable(tmp_path: Path) -> None:
    parquet = ParquetIOManager(base_path=str(tmp_path))
    pickle = PickleIOManager(base_path=str(tmp_path))
    parquet.handle_output(output_for(), pa.table(COLUMNS))
    assert pickle.load_input(input_for(output_for())).equals(pa.table(COLUMNS))
    pickle.handle_output(output_for(), {"a": 1})
    assert parquet.load_input(input_for(output_for())) == {"a": 1}
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["orders.pkl"]
