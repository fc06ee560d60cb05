"""raystra's Spark integration: Spark 4 through Spark Connect.

Assets take and return Spark DataFrames; Spark reads and writes the assets' Parquet itself.

Example:
    >>> from raystra_spark import SparkResource
    >>> SparkResource().remote is None  # the embedded local server
    True
"""

from raystra_spark._resource import SparkResource
from raystra_spark._server import (
    JavaNotFoundError,
    SparkServerError,
    embedded_spark_remote,
    release_embedded_spark,
    stop_embedded_spark,
)

__all__ = [
    "JavaNotFoundError",
    "SparkResource",
    "SparkServerError",
    "embedded_spark_remote",
    "release_embedded_spark",
    "stop_embedded_spark",
]
