"""`SparkResource`: a Spark Connect session for the steps that ask for one."""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import threading
import warnings
from typing import TYPE_CHECKING, Any

from raystra.definitions import ConfigurableResource
from raystra_spark._server import embedded_spark_remote

if TYPE_CHECKING:
    from pyspark.sql.connect.session import SparkSession

__all__ = ["SparkResource", "close_sessions"]

# pyspark 4.3 warns on import that it does not fully support pandas 3; raystra hands Spark
# Arrow tables, not pandas frames, so the warning would only flood step logs.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

# One session per address and session configuration, per process: a Ray worker runs many steps
# and each would otherwise pay a new session's RPCs.
_sessions: dict[tuple[str, tuple[tuple[str, str], ...]], SparkSession] = {}
_lock = threading.Lock()


class SparkResource(ConfigurableResource):
    """A Spark 4 session through Spark Connect: a real cluster, or an embedded local server.

    With ``remote`` unset, steps share one local Spark Connect server (``local[N]``) that
    raystra starts on first use (about 15 s; it needs Java 17+) and stops once no process uses
    it. With ``remote="sc://host:15002"`` every step connects to that server as a thin client.
    Spark reads and writes asset Parquet itself: return a Spark DataFrame from an asset, and
    annotate inputs ``pyspark.sql.DataFrame``.

    Attributes:
        remote: Spark Connect address (``sc://host:port/;token=...``); None for embedded.
        local_cores: Cores of the embedded server (``local[N]``); default all.
        server_conf: Spark settings for the embedded server when raystra starts it (e.g.
            ``{"spark.driver.memory": "4g"}``); a server already running keeps its own.
        session_conf: Runtime SQL settings set on each session (e.g.
            ``{"spark.sql.shuffle.partitions": "8"}``).

    Example:
        >>> import pyspark.sql as ps  # doctest: +SKIP
        >>> from raystra import asset
        >>> @asset
        ... def big_orders(spark: SparkResource, orders: ps.DataFrame) -> ps.DataFrame:
        ...     return orders.where("amount > 100")
        >>> SparkResource(remote="sc://spark-connect:15002").remote
        'sc://spark-connect:15002'
    """

    remote: str | None = None
    local_cores: int | None = None
    server_conf: dict[str, str] = {}
    session_conf: dict[str, str] = {}

    def get_session(self) -> SparkSession:
        """This process's session for the configured server (created on first use)."""
        remote = self.remote or embedded_spark_remote(cores=self.local_cores, conf=self.server_conf)
        key = (remote, tuple(sorted(self.session_conf.items())))
        with _lock:
            session = _sessions.get(key)
            if session is None or session.is_stopped:
                session = _new_session(remote, self.session_conf)
                _sessions[key] = session
            return session

    @property
    def spark_session(self) -> SparkSession:
        """`get_session`, under the name Dagster's ``PySparkResource`` uses."""
        return self.get_session()


def _new_session(remote: str, conf: dict[str, str]) -> SparkSession:
    from pyspark.sql.connect.session import SparkSession

    # What `pyspark.sql.SparkSession.builder.remote(...)` sets: without it the shared API
    # (`pyspark.sql.functions.lit`, ...) looks for a classic SparkContext and fails.
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"

    builder: Any = SparkSession.builder.remote(remote)
    for key, value in conf.items():
        builder = builder.config(key, value)
    session: SparkSession = builder.create()
    # Registered after this process registered as an embedded-server user, so it runs first
    # (atexit is last-in, first-out): sessions are released while the server is still up.
    atexit.register(_stop_session, session, remote)
    return session


def close_sessions() -> None:
    """Stop this process's sessions (before their server goes away)."""
    with _lock:
        for (remote, _), session in _sessions.items():
            _stop_session(session, remote)
        _sessions.clear()


def _stop_session(session: SparkSession, remote: str) -> None:
    # Only if the server is still up: the client would otherwise retry for minutes at exit.
    host, _, port = remote.removeprefix("sc://").split("/", 1)[0].partition(":")
    try:
        socket.create_connection((host, int(port or 15002)), timeout=1.0).close()
    except (OSError, ValueError):
        return
    if session.is_stopped:
        return
    with contextlib.suppress(Exception):
        session.stop()
