"""``open_queue(dsn)``: a queue on the store the installed plugins open for a DSN."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from burrow_tasks.clock import Clock
from burrow_tasks.config import JobsConfig
from burrow_tasks.engine.queue import JobQueue
from burrow_tasks.errors import ConfigError
from burrow_tasks.plugins import find_backend, get_plugin_manager

__all__ = ["open_queue"]


def open_queue(
    dsn: str | None = None,
    *,
    config: JobsConfig | None = None,
    clock: Clock | None = None,
    values: Mapping[str, Any] | None = None,
    plugins: Sequence[object] = (),
    **config_overrides: Any,
) -> JobQueue:
    """A ``JobQueue`` on the store for ``dsn`` (``memory://``, ``sqlite://...``,
    ``postgresql://...``), picked by the ``burrow_backend`` hook.

    ``dsn`` defaults to ``config.database_dsn``. ``config_overrides`` are ``JobsConfig``
    fields (durations may be strings such as ``"50ms"``). Every plugin's
    ``burrow_register_jobs`` is called once on the new queue. The queue owns the store:
    ``shutdown()`` closes it.
    """
    base = (config if config is not None else JobsConfig()).replace(**config_overrides)
    target = dsn if dsn is not None else base.database_dsn
    if not target:
        raise ConfigError(
            "open_queue needs a DSN: pass one or set --jobs-database-dsn / JOBS_DATABASE_DSN"
        )
    manager = get_plugin_manager(plugins)
    store = find_backend(manager, target)
    queue = JobQueue(store, base, clock=clock, values=values, plugin_manager=manager)
    queue._owns_store = True  # the factory opened the store
    return queue
