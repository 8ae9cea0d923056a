"""Small shared names: job ids, statuses, capabilities."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeAlias

JobId: TypeAlias = str
"""A job's id as the store hands it out. Opaque to everyone but the store."""

Lease: TypeAlias = str
"""The token of one claim. A store never hands the same lease out twice."""


class JobStatus(StrEnum):
    """Where a job is in its life.

    ``pending`` and ``failed`` are claimable once ``run_at`` has passed; ``completed`` and
    ``dead`` are final until an operator retries a dead job.
    """

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"


CLAIMABLE_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.PENDING, JobStatus.FAILED})


class Capability(StrEnum):
    """Optional abilities a store declares in ``store.capabilities``.

    The engine and the conformance suite read these; nothing guesses from a store's name.
    """

    BATCH_COMPLETE = "batch_complete"
    """``jobs_complete(completions, *, now)`` (``CompletesInBatches``) writes many jobs'
    completions in one call, so a job's task ends when its handler returns instead of
    waiting for its own write."""

    CROSS_PROCESS = "cross_process"
    """Claims stay exclusive across processes and hosts sharing one database."""

    NOTIFY = "notify"
    """``notifications()`` yields when work may be claimable or a running job was cancelled."""

    PARALLEL_CLAIMS = "parallel_claims"
    """Claims and outcome writes awaited at once run at once (on separate connections), so a
    worker gains from keeping more than one claim in flight while it runs short jobs."""

    TRANSACTIONAL_ENQUEUE = "transactional_enqueue"
    """``jobs_insert(using=...)`` writes inside the caller's open connection or transaction."""
