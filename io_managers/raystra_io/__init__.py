"""raystra's default IO managers: Parquet for tables and pickle for the rest, through fsspec.

Example:
    >>> from raystra_io import ParquetIOManager
    >>> ParquetIOManager(base_path="s3://bucket/raystra", storage_options={"anon": False})
    ParquetIOManager(base_path='s3://bucket/raystra', storage_options={'anon': False})
"""

from raystra.definitions import ConfigurableIOManager, InputContext, IOManager, OutputContext
from raystra_io._engines import EngineLocation, TableEngine, table_engines
from raystra_io._fsspec import FsspecIOManager
from raystra_io.parquet import ParquetIOManager
from raystra_io.pickle import PickleIOManager

__all__ = [
    "ConfigurableIOManager",
    "EngineLocation",
    "FsspecIOManager",
    "IOManager",
    "InputContext",
    "OutputContext",
    "ParquetIOManager",
    "PickleIOManager",
    "TableEngine",
    "table_engines",
]
