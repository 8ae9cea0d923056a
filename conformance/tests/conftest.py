"""Self-tests of the suite: pytester runs the suite against mutants of the example store."""

from __future__ import annotations

import sys
from pathlib import Path

pytest_plugins = ("pytester",)

# With --import-mode=importlib nothing puts this directory on sys.path; the mutants module
# must be importable both here and inside pytester's runs.
sys.path.insert(0, str(Path(__file__).parent))
