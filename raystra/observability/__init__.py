"""Turning what a step does into events: captured logs and output (tracing joins later)."""

from raystra.observability._log_capture import StepLogCapture

__all__ = ["StepLogCapture"]
