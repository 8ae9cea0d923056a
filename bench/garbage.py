"""The garbage collector around timed sections."""

from __future__ import annotations

import gc


def settle_garbage() -> None:
    """Collect the garbage of the setup before a timed section starts, as ``timeit`` keeps
    the collector out of its timings: opening a system (an SQLAlchemy engine and its
    migration check make tens of thousands of objects) otherwise leaves a full collection,
    40-60 ms in this process, to land in whichever measurement comes next. The collector
    stays on while the clock runs, so the garbage a system makes as it works is its own."""
    gc.collect()
