"""The ``burrow_backend`` hook for ``memory://`` DSNs (entry point group ``burrow``)."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from burrow_jobs_memory.store import MemoryStore
from burrow_tasks.hookspecs import hookimpl
from burrow_tasks.store import JobStore

_named: dict[str, MemoryStore] = {}
_named_lock = threading.Lock()


@hookimpl
def burrow_backend(dsn: str) -> JobStore | None:
    """``memory://`` opens a new, private store; ``memory://NAME`` the process-wide store of
    that name, so an enqueuing app and its admin can share one in development."""
    parts = urlsplit(dsn)
    if parts.scheme != "memory":
        return None
    name = (parts.netloc + parts.path).strip("/")
    if not name:
        return MemoryStore()
    with _named_lock:
        return _named.setdefault(name, MemoryStore())
