"""Imported once by the forkserver of the cross-process claim test, never by the suite itself:
the claim loops and every plugin of the entry-point group ``burrow`` (the backends), so the
claimers forked from it start with them imported instead of importing them each."""

from __future__ import annotations

from burrow_conformance import _claimers  # noqa: F401  (imported for the children)
from burrow_tasks.plugins import get_plugin_manager

get_plugin_manager()
