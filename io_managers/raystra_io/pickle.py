"""An IO manager that cloudpickles every output, on any fsspec filesystem."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from raystra.definitions import OutputContext
from raystra_io._base import Format, TableFilesIOManager

__all__ = ["PickleIOManager"]


class PickleIOManager(TableFilesIOManager):
    """Stores every output with cloudpickle as ``.pkl``, atomically, at the same paths as
    `ParquetIOManager` (so an asset can switch between the two).

    Use it for objects Parquet cannot hold (models, arbitrary Python values) or to keep a
    DataFrame's exact Python object. An input annotated with another table type still gets
    that type (converted through Arrow).

    Attributes:
        base_path: Any fsspec URL or local path; default ``$RAYSTRA_HOME/storage``.
        storage_options: Passed to the fsspec filesystem.

    Example:
        >>> from raystra.definitions import AssetKey, InputContext, OutputContext
        >>> io = PickleIOManager(base_path="memory://pickle-example")
        >>> out = OutputContext(run_id="r1", step_key="model", asset_key=AssetKey("model"))
        >>> io.handle_output(out, {"weights": [0.5]})["format"]
        'pickle'
        >>> io.load_input(InputContext(name="model", step_key="score", upstream_output=out))
        {'weights': [0.5]}
    """

    _read_order: ClassVar[tuple[Format, ...]] = ("pickle", "parquet")

    def handle_output(self, context: OutputContext, obj: Any) -> Mapping[str, Any] | None:
        """Pickle ``obj`` (None stores nothing); return path, format and size."""
        if obj is None:
            return {}
        return self._store_pickle(context, obj)
