"""Submitting raystra commands to a Ray cluster as Ray Jobs (``raystra submit``).

The user's project directory travels as the job's ``working_dir``, with pip requirements in
its ``runtime_env``; the entrypoint runs the raystra CLI on the cluster, so the run is recorded
in the configured storage like any run started on a laptop. Token authentication is Ray's own:
with ``RAY_AUTH_MODE=token`` the client sends the token from ``RAY_AUTH_TOKEN`` or
``~/.ray/auth_token``.

Example:
    >>> spec = JobSpec(command=("materialize", "--select", "orders"), module="my_project")
    >>> spec.entrypoint()
    'raystra -m my_project materialize --select orders'
"""

from __future__ import annotations

import asyncio
import os
import shlex
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raystra.errors import RaystraError

__all__ = [
    "DEFAULT_EXCLUDES",
    "SUBMITTABLE_COMMANDS",
    "JobInfo",
    "JobSpec",
    "follow_logs",
    "job_address",
    "job_info",
    "job_logs",
    "parse_env",
    "stop_job",
    "submit",
    "wait_for_job",
]

# What `raystra submit -- COMMAND` may run on the cluster: commands that start runs.
SUBMITTABLE_COMMANDS = ("materialize", "backfill", "reexecute", "job")
# Never uploaded with the project: environments, VCS data, caches, local run storage.
DEFAULT_EXCLUDES = (
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
    ".raystra",
)
# Forwarded to the job when set here, so the cluster run lands in the same storage.
_FORWARDED_ENV = ("RAYSTRA_STORAGE_URL",)
_TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
_AGENT_WAIT_S = 180.0  # how long a fresh head may take to accept jobs (its job agent)


@dataclass(frozen=True)
class JobSpec:
    """One raystra command to run on a cluster, and what it needs there.

    Args:
        command: the raystra command and its arguments, e.g. ``("backfill", "--select",
            "orders", "--from", "2024-01-01", "--to", "2024-01-31")``.
        module / file / attribute: where the definitions are, as for the local CLI; a file
            must lie inside ``working_dir`` (it is uploaded with it).
        working_dir: the project directory uploaded as the job's working directory.
        requirements: a requirements.txt installed on the cluster for the job.
        pip: extra pip packages for the job.
        env: environment variables for the job (``RAYSTRA_STORAGE_URL`` is forwarded from
            here when set and not given).
    """

    command: tuple[str, ...]
    module: str | None = None
    file: Path | None = None
    attribute: str | None = None
    working_dir: Path = Path(".")
    requirements: Path | None = None
    pip: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    excludes: tuple[str, ...] = DEFAULT_EXCLUDES

    def entrypoint(self) -> str:
        """The shell command the job runs on the cluster."""
        if not self.command or self.command[0] not in SUBMITTABLE_COMMANDS:
            given = self.command[0] if self.command else "nothing"
            raise RaystraError(
                f"`raystra submit` runs one of {', '.join(SUBMITTABLE_COMMANDS)} on the "
                f"cluster; got {given!r}. Example: raystra submit --address http://HEAD:8265 "
                "-m my_project -- backfill --select orders --from 2024-01-01 --to 2024-01-31"
            )
        words = ["raystra"]
        if self.module:
            words += ["-m", self.module]
        if self.file is not None:
            words += ["-f", self._relative_file()]
        if self.attribute:
            words += ["-a", self.attribute]
        return shlex.join([*words, *self.command])

    def _relative_file(self) -> str:
        assert self.file is not None
        root = self.working_dir.resolve()
        path = (
            (self.working_dir / self.file).resolve() if not self.file.is_absolute() else self.file
        )
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            raise RaystraError(
                f"Definitions file {str(self.file)!r} is outside the working directory "
                f"{str(root)!r} that is uploaded to the cluster. Pass --working-dir with a "
                "directory that contains it."
            ) from None

    def runtime_env(self) -> dict[str, Any]:
        """The Ray ``runtime_env``: working_dir, pip requirements, env vars, excludes."""
        root = self.working_dir.resolve()
        if not root.is_dir():
            raise RaystraError(f"Working directory {str(root)!r} does not exist.")
        env = {name: os.environ[name] for name in _FORWARDED_ENV if os.environ.get(name)}
        env.update(self.env)
        runtime_env: dict[str, Any] = {
            "working_dir": str(root),
            "excludes": list(self.excludes),
            "env_vars": env,
        }
        packages = list(self.pip)
        if self.requirements is not None:
            if not self.requirements.is_file():
                raise RaystraError(f"Requirements file {str(self.requirements)!r} not found.")
            packages += [
                line.strip()
                for line in self.requirements.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
        if packages:
            runtime_env["pip"] = packages
        return runtime_env


@dataclass(frozen=True)
class JobInfo:
    """What the cluster says about a submitted job."""

    job_id: str
    status: str  # PENDING | RUNNING | SUCCEEDED | FAILED | STOPPED
    entrypoint: str = ""
    message: str = ""
    start_time: float | None = None
    end_time: float | None = None

    @property
    def finished(self) -> bool:
        """True once the job succeeded, failed or was stopped."""
        return self.status in _TERMINAL


def job_address(address: str | None) -> str:
    """The Ray Jobs API address: the one given, else ``$RAY_API_SERVER_ADDRESS``, ``$RAY_ADDRESS``.

    Example:
        >>> job_address("http://head:8265")
        'http://head:8265'
    """
    chosen = (
        address or os.environ.get("RAY_API_SERVER_ADDRESS") or os.environ.get("RAY_ADDRESS") or ""
    )
    if not chosen.startswith(("http://", "https://")):
        raise RaystraError(
            "Pass the cluster's Ray Jobs API address, e.g. --address http://HEAD:8265 (the "
            "dashboard port), or set RAY_API_SERVER_ADDRESS."
            + (f" Got {chosen!r}." if chosen else "")
        )
    return chosen


def _client(address: str) -> Any:
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except Exception as err:  # Ray raises bare ConnectionError/RuntimeError here
        raise _connection_error(address, err) from err


def _connection_error(address: str, err: BaseException) -> RaystraError:
    text = str(err)
    hint = ""
    if "401" in text or "403" in text or "auth" in text.lower():
        hint = (
            " The cluster uses token authentication: export RAY_AUTH_MODE=token with its "
            "token in RAY_AUTH_TOKEN or ~/.ray/auth_token."
        )
    return RaystraError(
        f"Could not reach the Ray Jobs API at {address}: {text.splitlines()[0] if text else err!r}"
        f". Check the address (the head's dashboard port, 8265 by default) and that the head is "
        f"up with its dashboard.{hint}"
    )


def submit(address: str, spec: JobSpec, *, submission_id: str | None = None) -> str:
    """Submit ``spec`` to the cluster at ``address``; return the job id."""
    entrypoint = spec.entrypoint()
    runtime_env = spec.runtime_env()
    client = _client(address)
    job_id = submission_id or f"raystra-{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + _AGENT_WAIT_S
    while True:
        try:
            submitted: str = client.submit_job(
                entrypoint=entrypoint,
                submission_id=job_id,
                runtime_env=runtime_env,
                metadata={"raystra.command": spec.command[0]},
            )
            return submitted
        except Exception as err:
            # A head that just started answers before its job agent is up: wait for it.
            if "try again later" not in str(err) or time.monotonic() > deadline:
                raise _connection_error(address, err) from err
            time.sleep(1.0)


def job_info(address: str, job_id: str) -> JobInfo:
    """The job's status as the cluster reports it."""
    client = _client(address)
    try:
        details = client.get_job_info(job_id)
    except Exception as err:
        if "does not exist" in str(err) or "404" in str(err):
            raise RaystraError(
                f"The cluster at {address} knows no job {job_id!r}; `ray job list --address "
                f"{address}` lists its jobs."
            ) from err
        raise _connection_error(address, err) from err
    return JobInfo(
        job_id=job_id,
        status=str(getattr(details.status, "value", details.status)),
        entrypoint=details.entrypoint or "",
        message=details.message or "",
        start_time=details.start_time / 1000 if details.start_time else None,
        end_time=details.end_time / 1000 if details.end_time else None,
    )


def job_logs(address: str, job_id: str) -> str:
    """Everything the job printed so far."""
    try:
        return str(_client(address).get_job_logs(job_id))
    except RaystraError:
        raise
    except Exception as err:
        raise _connection_error(address, err) from err


def follow_logs(address: str, job_id: str, write: Callable[[str], None]) -> JobInfo:
    """Stream the job's logs to ``write`` until it finishes; return its final status."""
    client = _client(address)

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            write(chunk)

    asyncio.run(tail())
    return wait_for_job(address, job_id, timeout_s=60)


def wait_for_job(
    address: str, job_id: str, *, timeout_s: float | None = None, poll_s: float = 1.0
) -> JobInfo:
    """Poll until the job finished (or ``timeout_s`` passed); return its last status."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        info = job_info(address, job_id)
        if info.finished or (deadline is not None and time.monotonic() > deadline):
            return info
        time.sleep(poll_s)


def stop_job(address: str, job_id: str) -> bool:
    """Ask the cluster to stop the job; False when it had already finished."""
    try:
        return bool(_client(address).stop_job(job_id))
    except RaystraError:
        raise
    except Exception as err:
        raise _connection_error(address, err) from err


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs as a dict.

    Example:
        >>> parse_env(["RAYSTRA_STORAGE_URL=postgresql+psycopg://db/raystra"])
        {'RAYSTRA_STORAGE_URL': 'postgresql+psycopg://db/raystra'}
    """
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RaystraError(f"--env {pair!r} is not KEY=VALUE.")
        env[key] = value
    return env
