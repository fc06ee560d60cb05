"""Where Ray comes from: the running one, an address to attach to, or a quiet local start."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import ray

from raystra.errors import RaystraError
from raystra.planning import ExecutionPlan

__all__ = ["InfeasibleResourceError", "check_feasible", "connect", "required_resources"]


class InfeasibleResourceError(RaystraError):
    """A step asks for resources that no node of the Ray cluster has."""


def _project_pythonpath() -> str:
    """The driver's import path minus the interpreter's own, for workers to find user code.

    Workers run the same interpreter, so installed packages resolve the same way; what they
    lack is the project directories the driver added (the working directory, a ``-f`` file's
    folder). Shipped once per Ray job as an environment variable, not per step.
    """
    system = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    entries: list[str] = []
    for entry in [os.getcwd(), *sys.path]:
        path = os.path.realpath(entry or os.getcwd())
        if not os.path.isdir(path) or path in entries:
            continue
        if any(path == root or path.startswith(root + os.sep) for root in system):
            continue
        entries.append(path)
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*entries, *([existing] if existing else [])])


def connect(address: str | None = None) -> None:
    """Make sure this process is connected to Ray.

    Reuses a Ray already initialised in the process; else attaches to ``address`` (``auto``,
    ``ray://host:10001`` or a GCS address) or ``$RAY_ADDRESS``; else starts a local Ray with
    one CPU per core, quietly (no dashboard, worker output not echoed: raystra captures it).
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    options: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": False,
        "runtime_env": {"env_vars": {"PYTHONPATH": _project_pythonpath()}},
    }
    with _keeping_sigterm_handler():
        _init(address, options)


@contextlib.contextmanager
def _keeping_sigterm_handler() -> Iterator[None]:
    """Keep a SIGTERM handler the program installed (the CLI's) across ``ray.init``.

    Ray replaces it with one that calls ``sys.exit``; the CLI's turns SIGTERM into an interrupt
    so the run is recorded CANCELED, and Ray still shuts down at exit.
    """
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if callable(previous) and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


def _init(address: str | None, options: dict[str, Any]) -> None:
    try:
        if address:
            ray.init(address=address, **options)
        else:
            # "local": always a new local Ray. Without it Ray attaches to whatever cluster
            # /tmp/ray/ray_current_cluster names, even one that has since stopped.
            with _quiet_token_notice():
                ray.init(
                    address="local",
                    num_cpus=os.cpu_count() or 1,
                    include_dashboard=False,
                    **options,
                )
    except ConnectionError as err:
        auth_hint = (
            ""
            if os.environ.get("RAY_AUTH_MODE")
            else " If the cluster uses token authentication (Ray's default since 2.59), export "
            "RAY_AUTH_MODE=token here, with the cluster's token in RAY_AUTH_TOKEN or in "
            "~/.ray/auth_token: Ray sends a token to an explicit address only when asked to."
        )
        raise RaystraError(
            f"Could not connect to the Ray cluster at {address!r}: {err}. Check the address "
            f"(--ray-address or RAY_ADDRESS) and that the head node is up.{auth_hint}"
        ) from err


@contextlib.contextmanager
def _quiet_token_notice() -> Iterator[None]:
    """Hide Ray's notice that token authentication is on: it stays on, we just don't shout.

    The token Ray generates for a local cluster (``~/.ray/auth_token``) is what clients that
    attach with ``--ray-address`` use, so authentication keeps working.
    """
    token_logger = logging.getLogger("ray._private.authentication")
    previous = token_logger.level
    token_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        token_logger.setLevel(previous)


def required_resources(ray_options: Mapping[str, Any]) -> dict[str, float]:
    """The resources a task with these options needs on one node (Ray's names)."""
    need: dict[str, float] = {"CPU": float(ray_options.get("num_cpus", 1))}
    if ray_options.get("num_gpus"):
        need["GPU"] = float(ray_options["num_gpus"])
    if ray_options.get("memory"):
        need["memory"] = float(ray_options["memory"])
    for name, amount in (ray_options.get("resources") or {}).items():
        need[name] = float(amount)
    return {name: amount for name, amount in need.items() if amount > 0}


def _describe(resources: Mapping[str, float]) -> str:
    parts = []
    for name, amount in sorted(resources.items()):
        if name == "memory":
            parts.append(f"memory {amount / 2**30:.1f} GiB")
        elif not name.startswith("node:") and not name.startswith("object_store"):
            parts.append(f"{name} {amount:g}")
    return ", ".join(parts) or "nothing"


def check_feasible(plan: ExecutionPlan) -> None:
    """Fail fast, naming the asset and resource, if no node could ever run some step.

    Without this check Ray would keep an infeasible task pending forever and the run would
    hang.
    """
    list_nodes: Any = ray.nodes  # untyped in Ray's stubs
    nodes: list[dict[str, float]] = [n["Resources"] for n in list_nodes() if n.get("Alive")]
    feasible: set[tuple[tuple[str, float], ...]] = set()  # requests some node can meet
    for step in plan.steps:
        need = required_resources(step.ray_options)
        # Most steps of a plan ask for the same few things: each is checked once.
        asked = tuple(sorted(need.items()))
        if asked in feasible:
            continue
        if any(all(node.get(k, 0.0) >= v for k, v in need.items()) for node in nodes):
            feasible.add(asked)
            continue
        largest: dict[str, float] = max(nodes, key=lambda n: n.get("CPU", 0.0), default={})
        short = sorted(name for name, v in need.items() if largest.get(name, 0.0) < v)
        what = "asset" if step.kind == "asset" else "op"
        raise InfeasibleResourceError(
            f"The {what} {step.key!r} asks for {_describe(need)} (ray_options), but no node of "
            f"the Ray cluster has that much {', '.join(repr(s) for s in short)} (largest node: "
            f"{_describe(largest)}). Lower its ray_options, or add a node with those resources "
            "(e.g. `ray start --resources='{\"" + (short[0] if short else "x") + "\": 1}'`)."
        )
