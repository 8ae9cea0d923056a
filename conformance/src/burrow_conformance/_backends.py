"""Open a store from a DSN the way an app does: the ``burrow_backend`` hook of the plugins
under the entry-point group ``burrow``. Used for threads and child processes of the
concurrency tests, which must not share the parent's connections."""

from __future__ import annotations

from burrow_tasks.plugins import find_backend, get_plugin_manager
from burrow_tasks.store import JobStore

__all__ = ["open_store"]


def open_store(dsn: str) -> JobStore:
    """The store for ``dsn`` (raises ``ConfigError`` naming the scheme when no plugin answers)."""
    return find_backend(get_plugin_manager(), dsn)
