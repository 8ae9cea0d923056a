"""Finding plugins: the pluggy manager for project ``"burrow"`` and a typed facade over it.

Nothing happens at import time: entry points are read when ``get_plugin_manager()`` is
called.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

import pluggy

from burrow_tasks import hookspecs
from burrow_tasks.errors import ConfigError

if TYPE_CHECKING:
    from burrow_tasks.store import JobStore

__all__ = [
    "ENTRY_POINT_GROUP",
    "find_backend",
    "get_plugin_manager",
    "mask_dsn",
    "plugin_names",
    "register_jobs",
]

ENTRY_POINT_GROUP = "burrow"


def get_plugin_manager(
    plugins: Iterable[object] = (), *, load_entry_points: bool = True
) -> pluggy.PluginManager:
    """A plugin manager with burrow's hook specs, every plugin under the entry-point group
    ``burrow`` (unless ``load_entry_points`` is False) and ``plugins`` registered."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if load_entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in plugins:
        if not manager.is_registered(plugin):
            manager.register(plugin)
    return manager


def plugin_names(manager: pluggy.PluginManager) -> list[str]:
    """The registered plugins, sorted: entry-point plugins as ``name (distribution)``."""
    dists = {id(plugin): dist.project_name for plugin, dist in manager.list_plugin_distinfo()}
    names = []
    for name, plugin in manager.list_name_plugin():
        dist = dists.get(id(plugin))
        names.append(f"{name} ({dist})" if dist else str(name))
    return sorted(names)


def register_jobs(manager: pluggy.PluginManager, queue: object) -> None:
    """Call ``burrow_register_jobs(queue)`` on every plugin."""
    manager.hook.burrow_register_jobs(queue=queue)


def find_backend(manager: pluggy.PluginManager, dsn: str) -> JobStore:
    """The store the first plugin answering ``burrow_backend(dsn)`` opens.

    Raises ``ConfigError`` naming the scheme (the DSN shown with its password masked) and the
    known plugins when none answers.
    """
    store = manager.hook.burrow_backend(dsn=dsn)
    if store is None:
        scheme = urlsplit(dsn).scheme or "(none)"
        known = ", ".join(plugin_names(manager)) or "none"
        raise ConfigError(
            f"no burrow backend answers DSN {mask_dsn(dsn)!r} (scheme {scheme!r}); "
            f"plugins asked: {known}. Install the backend package for this scheme "
            "(burrow-jobs-memory: memory://, burrow-jobs-sql: sqlite://, postgresql://)"
        )
    return cast("JobStore", store)


def mask_dsn(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(dsn)
        password = parts.password
    except ValueError:
        return dsn
    if not password:
        return dsn
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc: Any = f"{user}:***@{hostinfo}"
    return urlunsplit(parts._replace(netloc=netloc))
