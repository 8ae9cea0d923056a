"""Imported once by the forkserver of the cross-process claim test, never by the suite itself:
the claim loops and every plugin of the entry-point group ``burrow`` (the backends), so the
claimers forked from it start with them imported instead of importing them each. Only a
speed-up: a child imports whatever is missing itself."""

from __future__ import annotations

import contextlib

from burrow_conformance import _claimers  # noqa: F401  (imported for the children)
from burrow_tasks.plugins import get_plugin_manager

# A plugin that fails to load here would kill the forkserver, its traceback on the server's
# stderr and the test failing with an EOFError; the children load it again and fail where
# the test reports it.
with contextlib.suppress(Exception):
    get_plugin_manager()
