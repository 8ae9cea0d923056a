"""Run the worker pool for as long as an ASGI app (Starlette, FastAPI ...) runs.

app = Starlette(routes=..., lifespan=queue_lifespan(queue))
app = Starlette(routes=..., lifespan=queue_lifespan(queue, lifespan=my_lifespan))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from burrow_tasks.engine.queue import JobQueue

__all__ = ["queue_lifespan"]

AppT = TypeVar("AppT")

Lifespan = Callable[[AppT], AbstractAsyncContextManager[Any]]


def queue_lifespan(queue: JobQueue, lifespan: Lifespan[AppT] | None = None) -> Lifespan[AppT]:
    """A lifespan that starts ``queue``'s pool before the app (and its own ``lifespan``, if
    given) starts, and shuts the pool down gracefully after the app stops. The app's own
    lifespan state, if any, is passed through."""

    @asynccontextmanager
    async def run(app: AppT) -> AsyncIterator[Any]:
        await queue.start()
        try:
            if lifespan is None:
                yield None
            else:
                async with lifespan(app) as state:
                    yield state
        finally:
            await queue.shutdown()

    return run
