"""Make ``examples`` importable when pytest is run as ``pytest`` rather than ``python -m pytest``.

``examples/`` is not an installed package; like the CLI's ``-m examples.ecommerce.definitions``,
the tests import it from the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
