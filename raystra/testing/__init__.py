"""Test helpers and the shared conformance suites every IO manager and storage must pass.

Subclass a suite in your own tests and override its fixture:

Example:
    >>> from raystra.testing import IOManagerConformance
    >>> class TestMyIOManager(IOManagerConformance):  # doctest: +SKIP
    ...     @pytest.fixture
    ...     def io_manager(self, tmp_path):
    ...         return MyIOManager(base_path=str(tmp_path))

The suites import pytest, so import this package only from tests.
"""

from raystra.testing.io_manager_suite import IOManagerConformance
from raystra.testing.storage_suite import RunStorageConformance

__all__ = ["IOManagerConformance", "RunStorageConformance"]
