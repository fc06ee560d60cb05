"""One local Ray for the whole test session: a cold start costs 5-9 s and ~1 GB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """Start (or reuse) the session's local Ray through raystra's own connect()."""
    import ray

    from raystra.execution.ray import connect

    connect()
    yield
    ray.shutdown()


@pytest.fixture
def on_ray(ray_session: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run this test's materializations on the Ray executor (the session's Ray)."""
    monkeypatch.setenv("RAYSTRA_EXECUTOR", "ray")


# --- S3: a real local endpoint (moto's server over HTTP, s3fs as the client) -------------------
# Imports here, not at the top: this block is appended to a file other fixtures also extend.
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

S3_KEY_ENV = "RAYSTRA_TEST_S3_KEY"
S3_SECRET_ENV = "RAYSTRA_TEST_S3_SECRET"


@pytest.fixture(scope="session", autouse=True)
def s3_credentials() -> Iterator[tuple[str, str]]:
    """Random S3 credentials in ``RAYSTRA_TEST_S3_KEY`` / ``RAYSTRA_TEST_S3_SECRET``.

    Autouse, so it runs before the session's Ray starts: Ray workers keep the environment they
    started with, and steps resolve `EnvVar` where they run. Random values, so a test can tell
    a leaked secret from ordinary text.
    """
    import secrets

    values = (f"AKIA{secrets.token_hex(8).upper()}", f"s3-secret-{secrets.token_hex(16)}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(S3_KEY_ENV, values[0])
        patch.setenv(S3_SECRET_ENV, values[1])
        yield values


@dataclass(frozen=True)
class S3Endpoint:
    """The session's local S3: its URL, a bucket in it, and the credentials it accepts."""

    endpoint_url: str
    bucket: str
    key: str
    secret: str

    def storage_options(self, *, from_env: bool = True) -> dict[str, Any]:
        """s3fs options: credentials as `EnvVar` (resolved where steps run) or as plain values."""
        from raystra import EnvVar

        key, secret = (EnvVar(S3_KEY_ENV), EnvVar(S3_SECRET_ENV)) if from_env else self.secrets
        return {
            "key": key,
            "secret": secret,
            "client_kwargs": {"endpoint_url": self.endpoint_url},
        }

    @property
    def secrets(self) -> tuple[str, str]:
        return self.key, self.secret

    def filesystem(self) -> Any:
        """A fresh s3fs client (no shared listing cache) with the plain credentials."""
        import s3fs

        return s3fs.S3FileSystem(skip_instance_cache=True, **self.storage_options(from_env=False))


@pytest.fixture(scope="session")
def s3_server(s3_credentials: tuple[str, str]) -> Iterator[S3Endpoint]:
    """moto's S3 server on 127.0.0.1 (a free port) in a thread this session owns, one bucket.

    Dummy ``AWS_*`` credentials keep any client that ignores ``storage_options`` away from a
    real account. The server thread is stopped at session end.
    """
    import logging

    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            patch.setenv(name, "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        # One werkzeug line per request would land in captured step output; errors still show.
        werkzeug = logging.getLogger("werkzeug")
        level = werkzeug.level
        werkzeug.setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = S3Endpoint(
                endpoint_url=f"http://{host}:{port}",
                bucket="raystra-test",
                key=s3_credentials[0],
                secret=s3_credentials[1],
            )
            endpoint.filesystem().mkdir(endpoint.bucket)
            yield endpoint
        finally:
            server.stop()
            werkzeug.setLevel(level)


@pytest.fixture(scope="session")
def spark_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real embedded Spark Connect server for the session's Spark tests (~15 s to start).

    Its state directory is private to this session, so another test session on the machine
    neither shares nor stops it; tests pass the address to `SparkResource(remote=...)`, which
    Ray workers started before this fixture reach too. Stopped (by its supervisor's PID) at
    the end of the session.
    """
    pytest.importorskip("pyspark")
    from raystra_spark import embedded_spark_remote, stop_embedded_spark

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAYSTRA_SPARK_DIR", str(tmp_path_factory.mktemp("spark_server")))
        yield embedded_spark_remote()
        stop_embedded_spark()
