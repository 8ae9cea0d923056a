"""What a suite test gets: the backend's fixtures bundled, and a per-test session on one loop.

A suite test is written as ``@store_test async def test_x(self, s: Session)``. The decorator
turns it into a plain sync pytest test taking the ``burrow_harness`` fixture; the harness
runs the body on a fresh event loop (``_sync.run_sync``), opens the store there through the
backend's ``burrow_store`` factory, skips with the reason shown when a required capability is
not declared, and closes every store it opened.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import pytest

from burrow_conformance._assertions import Rule, check, violation
from burrow_conformance._sync import run_sync
from burrow_conformance.requirements import Requirement, unmet_requirements
from burrow_tasks.jobs import ClaimedJob, Job, JobError, NewJob
from burrow_tasks.store import JobStore
from burrow_tasks.types import JobId

__all__ = [
    "ALL_TYPES",
    "T0",
    "Harness",
    "Session",
    "StoreFactory",
    "SuiteOptions",
    "TransactionControl",
    "TransactionFactory",
    "store_test",
]

StoreFactory = Callable[[], Awaitable[JobStore]]
"""The ``burrow_store`` fixture's value: each call returns a new, empty store."""


@runtime_checkable
class TransactionControl(Protocol):
    """One open transaction of the app's, as ``burrow_transaction`` hands it to the suite.

    ``using`` is what the app would pass as ``jobs_insert(using=...)``; ``commit`` and
    ``rollback`` end the transaction.
    """

    @property
    def using(self) -> Any: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


TransactionFactory = Callable[[JobStore], AbstractAsyncContextManager[TransactionControl]]
"""The ``burrow_transaction`` fixture's value: ``async with factory(store) as tx`` opens a
transaction on the database behind ``store``; leaving the block without ``commit`` rolls
it back."""

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
"""The suite's "now": aware UTC with microseconds, so lost precision shows."""

ALL_TYPES = ("email", "report", "thumbnail")
"""The job types the suite uses; a claim of ``ALL_TYPES`` can take any suite job."""

DEFAULT_PAYLOAD = '{"to": "ada@example.com"}'


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise pytest.UsageError(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True, slots=True)
class SuiteOptions:
    """Sizes of the concurrency tests (options ``--burrow-*`` or env ``BURROW_CONFORMANCE_*``)."""

    claim_jobs: int = 2000
    rescue_jobs: int = 1000
    claimers: int = 4

    @classmethod
    def from_config(cls, config: pytest.Config) -> SuiteOptions:
        def pick(option: str, env: str, default: int) -> int:
            value = config.getoption(option)
            return int(value) if value is not None else _env_int(env, default)

        return cls(
            claim_jobs=pick("burrow_claim_jobs", "BURROW_CONFORMANCE_CLAIM_JOBS", 2000),
            rescue_jobs=pick("burrow_rescue_jobs", "BURROW_CONFORMANCE_RESCUE_JOBS", 1000),
            claimers=pick("burrow_claimers", "BURROW_CONFORMANCE_CLAIMERS", 4),
        )


@dataclass
class Harness:
    """The backend's fixtures for one test, and the way to run an async body against them."""

    factory: StoreFactory
    requirements: Sequence[Requirement] = ()
    dsn: str | None = None
    transaction: TransactionFactory | None = None
    options: SuiteOptions = field(default_factory=SuiteOptions)
    hypothesis_profile: str = "dev"

    def run(self, body: Callable[[Session], Coroutine[Any, Any, None]]) -> None:
        """Open a store on a fresh loop, skip if a capability is missing, run ``body``."""
        skip_reason = run_sync(lambda: self._run(body))
        if skip_reason is not None:
            pytest.skip(skip_reason)

    async def _run(self, body: Callable[[Session], Coroutine[Any, Any, None]]) -> str | None:
        session = Session(self)
        try:
            store = await session.open_store()
            reasons = unmet_requirements(self.requirements, store.capabilities)
            if reasons:
                return "; ".join(reasons)
            await body(session)
            return None
        finally:
            await session.close_all()


class Session:
    """One test's view: the store under test, the suite's clock values and small helpers.

    The helpers only call the store's public methods, so what they set up is what a real
    caller would do.
    """

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self._stores: list[JobStore] = []
        self.now = T0

    @property
    def store(self) -> JobStore:
        """The first store this test opened."""
        if not self._stores:
            raise RuntimeError("no store opened yet")
        return self._stores[0]

    async def open_store(self) -> JobStore:
        """Call the ``burrow_store`` factory (again): a new, empty store, closed at the end."""
        store = await self.harness.factory()
        if not isinstance(store, JobStore):
            raise TypeError(
                f"the burrow_store factory returned {store!r}, which does not implement "
                "burrow_tasks.JobStore (missing methods?)"
            )
        self._stores.append(store)
        return store

    def track(self, store: JobStore) -> JobStore:
        """Close ``store`` at the end of the test too."""
        self._stores.append(store)
        return store

    async def close_all(self) -> None:
        for store in reversed(self._stores):
            await store.close()

    # --- time ----------------------------------------------------------------------------

    def at(self, seconds: float = 0) -> datetime:
        """``T0`` shifted by ``seconds``."""
        return T0 + timedelta(seconds=seconds)

    # --- setting jobs up -------------------------------------------------------------------

    @staticmethod
    def new_job(
        type: str = "email",
        *,
        payload: str = DEFAULT_PAYLOAD,
        priority: int = 0,
        max_retries: int = 3,
        run_at: datetime = T0,
    ) -> NewJob:
        return NewJob(
            type=type, payload=payload, priority=priority, max_retries=max_retries, run_at=run_at
        )

    async def insert(
        self,
        type: str = "email",
        *,
        payload: str = DEFAULT_PAYLOAD,
        priority: int = 0,
        max_retries: int = 3,
        run_at: datetime | None = None,
        now: datetime | None = None,
    ) -> JobId:
        now = self.now if now is None else now
        job = self.new_job(
            type,
            payload=payload,
            priority=priority,
            max_retries=max_retries,
            run_at=now if run_at is None else run_at,
        )
        ids = await self.store.jobs_insert([job], now=now)
        check(Rule.INSERT, "jobs_insert([one job])", expected=1, got=len(ids))
        return ids[0]

    async def claim(
        self, limit: int = 1, *, types: Sequence[str] = ALL_TYPES, now: datetime | None = None
    ) -> list[ClaimedJob]:
        return await self.store.jobs_claim(limit, types=types, now=self.now if now is None else now)

    async def claim_ids(
        self, limit: int = 100, *, types: Sequence[str] = ALL_TYPES, now: datetime | None = None
    ) -> list[JobId]:
        return [c.id for c in await self.claim(limit, types=types, now=now)]

    async def claim_job(self, job_id: JobId, *, now: datetime | None = None) -> ClaimedJob:
        """Claim and return ``job_id``, which must be the only claimable job of its type."""
        job = await self.get(job_id)
        claimed = await self.claim(1, types=[job.type], now=now)
        check(
            Rule.CLAIM_ORDER,
            f"jobs_claim(1, types=[{job.type!r}]) with job {job_id!r} claimable",
            expected=[job_id],
            got=[c.id for c in claimed],
        )
        return claimed[0]

    async def running(self, type: str = "email", **insert: Any) -> ClaimedJob:
        """A new job, claimed: running under a lease."""
        return await self.claim_job(await self.insert(type, **insert))

    async def failed(self, *, retry_in: float = 60, **insert: Any) -> JobId:
        """A job that ran once and failed, its retry due ``retry_in`` seconds after ``now``."""
        claimed = await self.running(**insert)
        ok = await self.store.job_fail(
            claimed.id,
            claimed.lease,
            error=ERROR,
            retry_at=self.now + timedelta(seconds=retry_in),
            now=self.now,
        )
        check(Rule.FAIL, "job_fail with the current lease", expected=True, got=ok)
        return claimed.id

    async def dead(self, **insert: Any) -> JobId:
        """A job that ran once and failed for good."""
        claimed = await self.running(**insert)
        ok = await self.store.job_fail(
            claimed.id, claimed.lease, error=ERROR, retry_at=None, now=self.now
        )
        check(Rule.FAIL, "job_fail(retry_at=None) with the current lease", expected=True, got=ok)
        return claimed.id

    async def completed(self, *, result: str | None = '{"ok": true}', **insert: Any) -> JobId:
        """A job that ran once and completed at ``self.now``."""
        claimed = await self.running(**insert)
        ok = await self.store.job_complete(claimed.id, claimed.lease, result=result, now=self.now)
        check(Rule.COMPLETE, "job_complete with the current lease", expected=True, got=ok)
        return claimed.id

    async def get(self, job_id: JobId) -> Job:
        """``job_get(job_id)``, which must exist."""
        job = await self.store.job_get(job_id)
        if job is None:
            violation(Rule.READS, f"job_get({job_id!r})", "expected the job, got None")
        return job

    async def statuses(self) -> dict[str, int]:
        """``jobs_count_by_status`` with only the non-zero counts, keyed by value."""
        counts = await self.store.jobs_count_by_status()
        return {status.value: n for status, n in counts.items() if n}


ERROR = JobError(message="boom", error_class="builtins.ValueError", traceback="Traceback ...")
"""The error the suite's failing runs record."""


BODY_ATTRIBUTE = "_burrow_body"
"""The attribute of a ``store_test`` test that holds the suite's own ``async def``."""


def store_test(
    body: Callable[[Any, Session], Coroutine[Any, Any, None]],
) -> Callable[[Any, Harness], None]:
    """Turn ``async def test_x(self, s: Session)`` into a sync pytest test.

    The wrapper takes the ``burrow_harness`` fixture and runs ``body`` through it. Marks
    (``@requires(...)``) may sit above or below this decorator.
    """

    def test(self: Any, burrow_harness: Harness) -> None:
        burrow_harness.run(lambda session: body(self, session))

    # Copy the identity by hand rather than functools.wraps: pytest reads the fixtures a
    # test needs from its signature, which must stay (self, burrow_harness), not body's.
    test.__name__ = body.__name__
    test.__qualname__ = body.__qualname__
    test.__doc__ = body.__doc__
    test.__module__ = body.__module__
    test.__dict__.update(body.__dict__)
    setattr(test, BODY_ATTRIBUTE, body)  # where a skip is reported (the plugin)
    return test
