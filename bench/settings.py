"""How big each workload is, for a full run and for ``--quick``."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Job counts, rates and repeats of one run. Names follow issue 5's workloads."""

    enqueue_jobs: int
    """W1: jobs enqueued one call and one transaction each."""
    batch_jobs: int
    """W2: jobs enqueued through the bulk API in one call."""
    process_jobs: int
    """W3 and W5: pre-enqueued no-op jobs one worker process works off."""
    latency_jobs: int
    """W4: jobs enqueued one by one to an idle worker."""
    latency_rate: float
    """W4: enqueues per second."""
    idle_window: float
    """W4: seconds the worker sits idle (its CPU is measured) before the first enqueue."""
    scale_processes: tuple[int, ...]
    """W5: worker process counts."""
    footprint_jobs: int
    """W6: jobs one worker works off while its RSS is sampled."""
    footprint_checkpoint: int
    """W6: the job count at which the first RSS sample is taken."""
    repeats: int
    """Measurements per (system, workload); the median is reported."""
    short_repeats: int
    """Measurements per system of W1, W2 and W4, which take seconds each: a burst of outside
    load on the shared machine moves one of their runs far more than one of W3's."""
    scale_repeats: int
    """Measurements per process count of W5, whose target is a ratio of two of its own
    medians: a run of 10,000 jobs takes under a second at burrow's rate on a fast machine,
    and three such runs a side moved the four-to-one ratio by a tenth between runs."""
    concurrency: int = 10
    """Handlers a worker process runs at once."""


FULL = Sizes(
    enqueue_jobs=5_000,
    batch_jobs=20_000,
    process_jobs=10_000,
    latency_jobs=200,
    latency_rate=20.0,
    idle_window=3.0,
    scale_processes=(1, 2, 4),
    footprint_jobs=100_000,
    footprint_checkpoint=10_000,
    repeats=5,
    short_repeats=5,
    scale_repeats=5,
)

QUICK = Sizes(
    enqueue_jobs=300,
    batch_jobs=2_000,
    process_jobs=1_000,
    latency_jobs=20,
    latency_rate=40.0,
    idle_window=0.3,
    scale_processes=(1, 2),
    footprint_jobs=2_000,
    footprint_checkpoint=500,
    repeats=1,
    short_repeats=1,
    scale_repeats=1,
)
