"""The hooks a burrow plugin can implement (pluggy project ``"burrow"``).

A plugin is any module or object with functions marked ``@hookimpl``. burrow finds plugins
registered explicitly and those under the entry-point group ``burrow``. Hook arguments may
grow in later versions, never shrink; an implementation may accept fewer of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from burrow_tasks.store import JobStore

PROJECT_NAME = "burrow"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- building a queue --------------------------------------------------------------------


@hookspec(firstresult=True)
def burrow_backend(dsn: str) -> JobStore | None:
    """Open the store for ``dsn``, or return None when the DSN's scheme is not yours.

    Called by ``open_queue(dsn)``; the first non-None result wins. A backend package answers
    for its own schemes (``memory://``, ``sqlite://``, ``postgresql://`` ...) and leaves the
    rest alone.

    :param dsn: the data source name the app configured, e.g. ``"memory://"`` or
        ``"postgresql://user@host/db"``.
    :return: a ready store, or None.
    """


@hookspec
def burrow_register_jobs(queue: object) -> None:
    """Register your task types on a newly built queue.

    Called once for every plugin when a ``JobQueue`` is built, so a process that only
    enqueues still knows every type. Typically ``my_task.register(queue)`` or
    ``queue.handle("type", handler)``.

    :param queue: the ``burrow_tasks.Queue`` being built.
    """
