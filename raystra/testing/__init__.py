"""Test helpers and the shared conformance suites every IO manager and storage must pass."""
