"""Run the suite's async bodies from plain (sync) pytest tests.

Every suite test is a sync function that runs its async body on a fresh ``asyncio.Runner``
and calls the ``burrow_store`` factory inside that loop. So a store is only ever used on the
loop that created it, whichever async pytest plugin (if any) the backend's project uses and
however it scopes its loops. Hypothesis state machines and the threads of the concurrency
tests do the same, one runner each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(body: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``body()`` to completion on a new event loop, then close the loop."""
    with asyncio.Runner() as runner:
        return runner.run(body())
