"""Spark frames stored and loaded by Spark itself (placeholder until the integration lands)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raystra.definitions import InputContext, OutputContext
from raystra_io import EngineLocation, TableEngine


class SparkEngine(TableEngine):
    """Recognises nothing yet."""

    name = "spark"

    def handles_type(self, tp: object) -> bool:
        return False

    def handles_object(self, obj: object) -> bool:
        return False

    def write(self, obj: Any, location: EngineLocation, context: OutputContext) -> Mapping[str, Any]:
        raise NotImplementedError

    def read(self, location: EngineLocation, context: InputContext) -> Any:
        raise NotImplementedError
