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

from raystra.errors import RaystraError
from raystra.observability._observers import ObserverGroup, RunObserver

__all__ = [
    "GRPC_MISSING",
    "ObserverFactory",
    "configured_observers",
    "exporter_names",
    "is_disabled",
    "otlp_protocol",
    "signal_enabled",
]

ObserverFactory = Callable[[Mapping[str, str]], RunObserver | None]


def is_disabled(environ: Mapping[str, str]) -> bool:
    """True when ``OTEL_SDK_DISABLED`` turns all OpenTelemetry signals off."""
    return environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


GRPC_MISSING = (
    "OTLP over gRPC needs the gRPC exporter: pip install 'raystra[otlp-grpc]' (or set "
    "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)."
)


_SUPPORTED_EXPORTERS = ("otlp", "console", "none")


def exporter_names(environ: Mapping[str, str], signal: str) -> list[str] | None:
    """The exporters ``OTEL_<SIGNAL>_EXPORTER`` names (``signal`` is TRACES or METRICS), or
    None when it is unset; an unknown name is a clear error.

    Example:
        >>> exporter_names({"OTEL_TRACES_EXPORTER": "otlp, console"}, "TRACES")
        ['otlp', 'console']
    """
    variable = f"OTEL_{signal}_EXPORTER"
    value = environ.get(variable, "").strip().lower()
    if not value:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in _SUPPORTED_EXPORTERS]
    if unknown:
        raise RaystraError(
            f"{variable}={value!r} names exporter(s) raystra does not know: "
            f"{', '.join(unknown)}. Use otlp, console or none (comma-separated)."
        )
    return names


def signal_enabled(environ: Mapping[str, str], signal: str) -> bool:
    """True when the standard ``OTEL_*`` variables ask for ``signal`` (TRACES or METRICS).

    ``OTEL_<SIGNAL>_EXPORTER`` naming an exporter other than ``none``, or an OTLP endpoint
    (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT``) being set,
    turns it on; ``OTEL_SDK_DISABLED=true`` turns everything off.

    Example:
        >>> signal_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "METRICS")
        True
    """
    if is_disabled(environ):
        return False
    exporters = exporter_names(environ, signal)
    if exporters is not None:
        return any(name != "none" for name in exporters)
    return bool(
        environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def otlp_protocol(environ: Mapping[str, str], signal: str) -> str:
    """``OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL``, else ``OTEL_EXPORTER_OTLP_PROTOCOL``, else
    ``http/protobuf``.

    Example:
        >>> otlp_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "TRACES")
        'grpc'
    """
    return (
        environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()


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
