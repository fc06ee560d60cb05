"""Which run observers are on: decided by environment variables, by convention.

Traces and metrics follow OpenTelemetry's standard ``OTEL_*`` variables; OpenLineage its own
``OPENLINEAGE_*`` ones (docs/observability.md lists them). Each factory looks at the
environment and returns an observer, or None when its feature is off; nothing heavy is
imported for a feature that is off.

Example:
    >>> configured_observers({}).observers
    []
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from raystra.observability._observers import ObserverGroup, RunObserver

__all__ = ["GRPC_MISSING", "ObserverFactory", "configured_observers", "is_disabled"]

ObserverFactory = Callable[[Mapping[str, str]], RunObserver | None]


def is_disabled(environ: Mapping[str, str]) -> bool:
    """True when ``OTEL_SDK_DISABLED`` turns all OpenTelemetry signals off."""
    return environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


GRPC_MISSING = (
    "OTLP over gRPC needs the gRPC exporter: pip install 'raystra[otlp-grpc]' (or set "
    "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)."
)


def _factories() -> tuple[ObserverFactory, ...]:
    from raystra.observability._metrics import metrics_observer
    from raystra.observability._openlineage import openlineage_observer
    from raystra.observability._tracing import tracing_observer

    return (tracing_observer, metrics_observer, openlineage_observer)


def configured_observers(environ: Mapping[str, str] | None = None) -> ObserverGroup:
    """The observers the environment turns on, for one run (fresh objects every call)."""
    env = os.environ if environ is None else environ
    built = (factory(env) for factory in _factories())
    return ObserverGroup([observer for observer in built if observer is not None])
