"""The worker pool: claims jobs in batches, runs their handlers, writes the outcomes.

One claim loop fills up to ``workers`` slots per store call; each claimed job runs as its
own asyncio task. When jobs prove shorter than a claim's round trip (every job of a full
batch returned before the next claim), a claim also takes up to ``claim_ahead`` jobs ahead:
they wait in the pool and start as slots free, so a busy pool of short jobs pays one store
round trip per five batches instead of one per batch; on a store that runs claims in
parallel, up to three such claims are in flight at once. At most ``workers`` handlers ever
run at once. One heartbeat loop renews every running job's lease; one maintenance loop
rescues stale jobs and deletes old completed ones; a notification loop (stores with
``Capability.NOTIFY``) wakes the claimer and checks cancelled jobs at once. Every wait is on
the queue's clock.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import enum
import inspect
import logging
import os
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar, cast

from burrow_tasks.clock import Clock
from burrow_tasks.config import JobsConfig
from burrow_tasks.context import JobContext, ResultCapture, job_context
from burrow_tasks.durations import format_duration
from burrow_tasks.engine.outcomes import job_error
from burrow_tasks.engine.recording import retry_outcome
from burrow_tasks.engine.registry import Registration
from burrow_tasks.engine.retry import retry_at
from burrow_tasks.engine.streaks import FailureStreak, warn_in_one_line
from burrow_tasks.engine.threads import run_on_daemon_thread
from burrow_tasks.engine.waiting import wait_event, wait_or_cancel, wait_tasks
from burrow_tasks.errors import UnknownJobType
from burrow_tasks.jobs import ClaimedJob, Completion, NotificationKind, WorkerInfo, WorkerState
from burrow_tasks.store import CompletesInBatches, JobStore
from burrow_tasks.types import Capability, JobId, Lease
from burrow_tasks.workers import PoolStatus, pool_status

__all__ = ["MaintenanceReport", "StopReason", "WorkerPool"]

logger = logging.getLogger("burrow_tasks")

T = TypeVar("T")

_MIN_BEAT_INTERVAL = timedelta(seconds=5)

_PARALLEL_CLAIMS = 3
"""Claims in flight at once while claiming ahead, on a store that runs them in parallel
(``Capability.PARALLEL_CLAIMS``): the database works on some while the pool runs the jobs
of another. W3 on PostgreSQL against the raw-SQL floor in alternating runs: one 0.90-0.95x,
two 0.94-1.26x, three 1.10-1.24x, four 1.03-1.34x (no better than three)."""

_BATCHES_AHEAD = 4
"""At most this many batches (of ``workers`` jobs) a claim takes beyond the free slots,
whatever ``claim_ahead`` says. W3 on PostgreSQL over pgqueuer in alternating runs: two
2.80-3.38x, four 3.65-3.82x (the cost of a statement is mostly per statement)."""

_CANCELLED_WRITES_WAIT = timedelta(seconds=1)
"""How long shutdown waits for writes it gave up on to take their cancellation."""


def _close(awaitable: Awaitable[Any]) -> None:
    """Drop an awaitable that will never be awaited without a "never awaited" warning."""
    if inspect.iscoroutine(awaitable):
        awaitable.close()
    elif isinstance(awaitable, asyncio.Future):
        awaitable.cancel()


def _task_name(task: asyncio.Future[Any]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)


class StopReason(enum.Enum):
    CANCELLED = "cancelled"
    """Cancelled or deleted through this queue: the store already knows."""
    LEASE_LOST = "lease lost"
    """A heartbeat was refused: cancelled, deleted or rescued elsewhere."""
    SHUTDOWN = "shutdown"
    """The grace period ran out: release the job."""


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(eq=False, slots=True)
class _RunningJob:
    job: ClaimedJob
    context: JobContext
    registration: Registration | None
    task: asyncio.Task[None] | None = None
    stop_reason: StopReason | None = None
    handler_done: bool = False
    awaits_on_loop: bool = False
    """A sync handler returned an awaitable, which the job's task now awaits."""

    @property
    def is_async(self) -> bool:
        # Without a registration (never claimed) _execute fails the job inside its task,
        # which a cancel can interrupt like an async handler.
        return self.registration is None or self.registration.is_async or self.awaits_on_loop


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one maintenance pass did; a pass that failed is listed in ``errors``."""

    rescued: list[JobId] = field(default_factory=list)
    deleted: int = 0
    errors: list[str] = field(default_factory=list)


def _start_task(
    coroutine: Coroutine[Any, Any, T], *, name: str, context: contextvars.Context | None = None
) -> asyncio.Task[T]:
    """A task started eagerly where Python can (3.12+): the coroutine runs at once up to its
    first real wait instead of one event-loop turn later. For a job, the handler and its
    completion run inside the claim when they are short; for a claim on a store that answers
    without waiting (the memory store), the task is done before anyone awaits it. ``context``
    as for ``asyncio.create_task`` (default: a copy of the current one)."""
    if _EAGER_TASKS:
        loop = asyncio.get_running_loop()
        return asyncio.Task(coroutine, loop=loop, name=name, context=context, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    return asyncio.create_task(coroutine, name=name, context=context)


_EAGER_TASKS = sys.version_info >= (3, 12)


class WorkerPool:
    """Runs the jobs of the registered types. Owned by a ``JobQueue``."""

    def __init__(
        self,
        store: JobStore,
        config: JobsConfig,
        clock: Clock,
        registry: Mapping[str, Registration],
        values: Mapping[str, Any],
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._registry = registry
        self._values = values
        # Keyed by lease: after a rescue or retry one job may run twice here at once.
        self._running: dict[Lease, _RunningJob] = {}
        # Claimed ahead, not started: held under their lease (heartbeats renew them) and
        # started in claim order as slots free.
        self._ready: collections.deque[_RunningJob] = collections.deque()
        self._start_scheduled = False
        self._last_claim_full = False
        self._log_completions = logger.isEnabledFor(logging.DEBUG)
        # Jobs whose handler has returned and whose outcome is being written: their slot is
        # already free, so the next claim overlaps the write instead of waiting for it.
        self._writing: set[asyncio.Task[None]] = set()
        # A store that writes completions in batches gets every completion of one turn of
        # the event loop in one call, and a job's task ends when its handler returns.
        self._batches = (
            cast(CompletesInBatches, store)
            if Capability.BATCH_COMPLETE in store.capabilities
            else None
        )
        self._completed: list[tuple[ClaimedJob, str | None]] = []
        # The writer runs in the pool's context, not in that of the job that started it.
        self._pool_context = contextvars.copy_context()
        # Claims in flight from the claim loop, and the jobs they may bring (held for them).
        self._claim_calls: collections.deque[asyncio.Task[None]] = collections.deque()
        self._reserved = 0
        self._claim_failures = FailureStreak(
            "claiming jobs", "trying again every poll interval until the store answers"
        )
        self._rescue_failures = FailureStreak(
            "rescuing stale jobs", "trying again at the next maintenance pass"
        )
        self._cleanup_failures = FailureStreak(
            "deleting old completed jobs", "trying again at the next maintenance pass"
        )
        self._lanes = _PARALLEL_CLAIMS if Capability.PARALLEL_CLAIMS in store.capabilities else 1
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._state = _State.NEW
        self._saturated = False
        self._loops: list[asyncio.Task[None]] = []
        self._claim_task: asyncio.Task[None] | None = None
        self._notify_task: asyncio.Task[None] | None = None
        self._started_at: datetime | None = None
        self._last_poll_at: datetime | None = None
        self._last_beat_at: datetime | None = None
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # --- state ---------------------------------------------------------------------------------

    @property
    def done(self) -> asyncio.Event:
        return self._done

    @property
    def running(self) -> bool:
        return self._state is _State.RUNNING

    @property
    def in_flight(self) -> int:
        """Jobs this pool holds: running, and claimed ahead waiting for a slot."""
        return len(self._running) + len(self._ready)

    def status(self) -> PoolStatus:
        info = None if self._state is _State.NEW else self._worker_info()
        return pool_status(info, self._clock.now())

    def _worker_info(self) -> WorkerInfo:
        running = self._state in (_State.RUNNING, _State.STOPPING)
        return WorkerInfo(
            id=self.worker_id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            state=WorkerState.RUNNING if running else WorkerState.STOPPED,
            workers=self._config.workers,
            in_flight=self.in_flight,
            poll_interval=self._config.poll_interval,
            types=tuple(sorted(self._registry)),
            started_at=self._started_at,
            last_poll_at=self._last_poll_at,
        )

    async def _beat(self) -> None:
        now = self._clock.now()
        self._last_beat_at = now
        try:
            await self._store.worker_beat(self._worker_info(), now=now)
        except Exception:
            logger.exception("burrow: publishing worker status failed")

    def wake(self) -> None:
        """Tell the claimer that work may be claimable now."""
        self._wake.set()

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._state is not _State.NEW:
            raise RuntimeError(f"the worker pool was already started (it is {self._state.value})")
        self._state = _State.RUNNING
        self._started_at = self._clock.now()
        self._pool_context = contextvars.copy_context()
        await self._beat()
        if self._state is not _State.RUNNING:
            return  # shut down while the first beat was written: start nothing
        self._claim_task = asyncio.create_task(self._claim_loop(), name="burrow-claim")
        self._loops = [
            asyncio.create_task(self._heartbeat_loop(), name="burrow-heartbeat"),
            asyncio.create_task(self._maintenance_loop(), name="burrow-maintenance"),
        ]
        if Capability.NOTIFY in self._store.capabilities:
            self._notify_task = asyncio.create_task(
                self._notification_loop(), name="burrow-notifications"
            )
        logger.info(
            "burrow: worker pool %s started (%d workers, types: %s)",
            self.worker_id,
            self._config.workers,
            ", ".join(sorted(self._registry)) or "none",
        )

    async def shutdown(self) -> None:
        """Stop claiming, let running handlers finish within the grace period, then cancel
        the async ones and release every job still held."""
        if self._state is _State.NEW:
            self._state = _State.STOPPED
            self._done.set()
            return
        if self._state is not _State.RUNNING:
            await self._done.wait()
            return
        # The queue runs this shielded (JobQueue.shutdown): a caller that gives up waiting
        # does not cut it short.
        self._state = _State.STOPPING
        self._wake.set()
        # One grace for the whole stop: claims still in flight and handlers share it.
        deadline = self._clock.now() + self._config.shutdown_grace
        writes_until: datetime | None = None
        try:
            await self._stop_claiming(deadline)
            await self._finish_within_grace(deadline)
            # Taken out first: a slot freed by a stopped handler must not start one.
            never_started = list(self._ready)
            self._ready.clear()
            for running in list(self._running.values()):
                self._stop(running, StopReason.SHUTDOWN)
            writes_until = self._clock.now() + self._config.shutdown_write_limit
            await self._write_last_outcomes(never_started, writes_until)
        finally:
            for loop in self._loops:
                loop.cancel()
            await asyncio.gather(*self._loops, return_exceptions=True)
            self._state = _State.STOPPED
            if writes_until is None:
                writes_until = self._clock.now() + self._config.shutdown_write_limit
            await self._last_beat(writes_until)
            self._done.set()
            logger.info("burrow: worker pool %s stopped", self.worker_id)

    async def _write_last_outcomes(self, never_started: list[_RunningJob], until: datetime) -> None:
        """Wait for the stopped handlers' outcome writes, the outcome writes still under way
        and the releases of the jobs that never started, ``until`` (``shutdown_write_limit``
        after the grace; the last worker beat shares it). A database that answers none of
        them in that time (a black-holed connection, a server gone silent) would otherwise
        hold shutdown forever; their jobs stay running in the store, and a rescue returns
        them once their heartbeats are stale."""
        # The claim counted an attempt, which a release keeps, as for a job interrupted by
        # shutdown.
        for running in never_started:
            release = _start_task(
                self._release(running.job), name=f"burrow-release-{running.job.id}"
            )
            self._writing.add(release)
            release.add_done_callback(self._writing.discard)
        writes: list[asyncio.Future[Any]] = [
            r.task for r in self._running.values() if r.task is not None
        ]
        writes += self._writing
        unanswered: list[asyncio.Future[Any]] = []
        waited: set[asyncio.Future[Any]] = set()
        while writes:
            unanswered += await wait_or_cancel(
                writes,
                self._clock,
                max(until - self._clock.now(), timedelta(0)),
                _CANCELLED_WRITES_WAIT,
            )
            # A stopped handler that returned after all queued its completion for a batch
            # whose writer started while we waited: wait for that one too.
            waited.update(writes)
            writes = [task for task in self._writing if task not in waited]
        if unanswered:
            logger.error(
                "burrow: shutdown gave up after %s on writes the database did not answer "
                "(%s); their jobs stay running until a rescue returns them, after the stale "
                "timeout",
                format_duration(self._config.shutdown_write_limit),
                ", ".join(sorted(_task_name(task) for task in unanswered)),
            )

    async def _last_beat(self, until: datetime) -> None:
        """The stopped state for the admin, if the database answers ``until``."""
        beat = _start_task(self._beat(), name="burrow-last-beat")
        limit = max(until - self._clock.now(), timedelta(0))
        await wait_or_cancel([beat], self._clock, limit, _CANCELLED_WRITES_WAIT)

    async def _finish_within_grace(self, deadline: datetime) -> None:
        """Let running handlers finish, and jobs claimed ahead start and finish as slots free
        (they are short: that is why they were claimed ahead), until the grace runs out."""
        while True:
            self._start_ready()
            tasks = [r.task for r in self._running.values() if r.task is not None]
            left = deadline - self._clock.now()
            if not tasks or left <= timedelta(0):
                return
            await wait_tasks(tasks, self._clock, left)

    async def _stop_claiming(self, deadline: datetime) -> None:
        if self._notify_task is not None:
            self._notify_task.cancel()
            await asyncio.gather(self._notify_task, return_exceptions=True)
        # The claim loop sees the state at its next wake-up; claims in progress may finish
        # (their jobs are handled like every other running job) within the grace.
        tasks = [*self._claim_calls]
        if self._claim_task is not None:
            tasks.append(self._claim_task)
        await wait_tasks(tasks, self._clock, max(deadline - self._clock.now(), timedelta(0)))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- claiming ----------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        poll = self._config.poll_interval
        beat_every = max(poll, _MIN_BEAT_INTERVAL)
        while self._state is _State.RUNNING:
            self._wake.clear()
            self._launch_claims()
            now = self._clock.now()
            if not self._claim_calls:
                # Else the claims in flight stamp the poll when they return: a claim the
                # store never answers leaves the pool stalled in its status.
                self._last_poll_at = now
            if self._last_beat_at is None or now - self._last_beat_at >= beat_every:
                await self._beat()
            if len(self._claim_calls) >= self._lanes:
                # No claim to add: wait for whichever returns first (not the oldest: claims
                # overtake each other, and a lane left idle behind a slow one is a third of
                # the throughput), without the timer and helper tasks of a wake-up wait, so
                # the loop is idle while the database works and the SQL thread gets the GIL.
                await asyncio.wait(self._claim_calls, return_when=asyncio.FIRST_COMPLETED)
            # shutdown() sets the wake event, so this returns at once when stopping.
            await wait_event(self._wake, self._clock, poll)

    def _launch_claims(self) -> None:
        """Start a claim if there is room; while claiming ahead on a store that runs claims
        in parallel, keep up to ``_PARALLEL_CLAIMS`` in flight."""
        types = tuple(self._registry)
        while len(self._claim_calls) < self._lanes:
            limit = self._next_limit(types)
            if limit == 0:
                return
            ahead = self._claim_ahead() > 0
            task = _start_task(self._claim_in_loop(limit, types), name="burrow-claim")
            if task.done():
                # The store answered without waiting (the memory store): nothing to overlap.
                return
            self._claim_calls.append(task)
            task.add_done_callback(self._claim_calls.remove)
            if not ahead:
                return

    async def _claim_in_loop(self, limit: int, types: tuple[str, ...]) -> None:
        """One claim of the claim loop. A full batch sets ``_saturated`` before its jobs
        start, so the first slot they free wakes the loop for the next claim."""
        try:
            await self._claim_and_start(limit, types)
        except Exception as error:
            self._claim_failures.failed(error)
        else:
            self._claim_failures.succeeded()
        finally:
            self._last_poll_at = self._clock.now()

    async def claim_batch(self) -> int:
        """Claim up to the free capacity (plus the jobs to claim ahead) in one store call
        and start the jobs; returns how many were claimed."""
        types = tuple(self._registry)
        limit = self._next_limit(types)
        if limit == 0:
            return 0
        return await self._claim_and_start(limit, types)

    def _next_limit(self, types: tuple[str, ...]) -> int:
        """Start the jobs claimed ahead that have a slot now, then how many jobs the next
        claim may take; 0 for no claim (with no room, the first slot freed wakes the loop)."""
        self._start_ready()
        if not types:
            return 0
        limit = self._claim_limit()
        if limit <= 0:
            self._saturated = True
            return 0
        return limit

    def _claim_limit(self) -> int:
        """How many jobs the next claim may take: the free slots, or while claiming ahead a
        batch of ``workers + claim_ahead``, as far as the jobs held and the claims in flight
        leave room for (one such batch per claim that may be in flight)."""
        held = len(self._running) + len(self._ready) + self._reserved
        ahead = self._claim_ahead()
        if ahead == 0:
            return self._config.workers - held
        batch = self._config.workers + ahead
        return min(batch * self._lanes - held, batch)

    async def _claim_and_start(self, limit: int, types: tuple[str, ...]) -> int:
        self._reserved += limit
        try:
            claimed = await self._claim(limit, types)
        finally:
            self._reserved -= limit
        self._last_claim_full = len(claimed) == limit
        # Asked once per claim, not per completion (two calls per job): a change of the log
        # level applies from the next batch.
        self._log_completions = logger.isEnabledFor(logging.DEBUG)
        # Set before the jobs start: a job may finish inside _start (eager start), and
        # its slot must then wake the claimer when this batch filled every slot.
        self._saturated = len(claimed) == limit
        self._ready.extend([self._prepare(job) for job in claimed])
        self._start_ready()
        return len(claimed)

    async def _claim(self, limit: int, types: tuple[str, ...]) -> list[ClaimedJob]:
        """The store's claim, shielded from the caller's cancellation (shutdown gives up on a
        claim that outlasts the grace): a database finishes the claim anyway, and the jobs
        it took would stay running, held by nobody, until a rescue counted a lost attempt.
        They are released as soon as the abandoned claim returns."""
        call = _start_task(
            self._store.jobs_claim(limit, types=types, now=self._clock.now()),
            name="burrow-claim-call",
        )
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            call.add_done_callback(self._give_back)
            raise

    def _give_back(self, call: asyncio.Future[list[ClaimedJob]]) -> None:
        if call.cancelled() or call.exception() is not None:
            return
        for job in call.result():
            logger.warning(
                "burrow: releasing job %s: its claim returned after it was abandoned", job.id
            )
            release = asyncio.ensure_future(self._release(job))
            self._writing.add(release)
            release.add_done_callback(self._writing.discard)

    def _claim_ahead(self) -> int:
        """How many jobs beyond the free slots the next claim may take: ``claim_ahead``, at
        most ``_BATCHES_AHEAD`` batches of ``workers``, when the last claim came back full (a
        backlog) and every job it brought has already returned (they are shorter than a
        claim's round trip); else none, so a job never waits behind a long one while another
        worker could run it."""
        if self._running or self._ready or not self._last_claim_full:
            return 0
        return min(self._config.claim_ahead, _BATCHES_AHEAD * self._config.workers)

    def _start_ready(self) -> None:
        """Start jobs claimed ahead, in claim order, while slots are free."""
        self._start_scheduled = False
        while self._ready and len(self._running) < self._config.workers:
            self._start(self._ready.popleft())

    def _prepare(self, job: ClaimedJob) -> _RunningJob:
        registration = self._registry.get(job.type)
        context = JobContext(
            id=job.id,
            type=job.type,
            attempt=job.attempts,
            max_retries=job.max_retries,
            enqueued_at=job.created_at,
            values=self._values,
        )
        return _RunningJob(job, context, registration)

    def _start(self, running: _RunningJob) -> None:
        job = running.job
        self._running[job.lease] = running
        capture = ResultCapture()
        task = _start_task(
            self._execute(running, running.registration, capture),
            name=f"burrow-job-{job.id}",
            context=job_context(running.context, capture),
        )
        running.task = task
        if not _EAGER_TASKS:
            # A task cancelled before its first step never runs _execute's ``finally``; an
            # eager task is past that point when _start_task returns.
            task.add_done_callback(lambda done: self._finished(running, done))

    def _free_slot(self, running: _RunningJob) -> None:
        if self._running.get(running.job.lease) is running:
            del self._running[running.job.lease]
            if self._ready and not self._start_scheduled:
                # Started from a callback, not from here: this runs inside the finishing
                # job's task, and an eager start nested in it for every job waiting would
                # stack one frame chain per job.
                self._start_scheduled = True
                asyncio.get_running_loop().call_soon(self._start_ready)
            if self._saturated:
                self._saturated = False
                self._wake.set()

    def _finished(self, running: _RunningJob, task: asyncio.Task[Any] | None) -> None:
        """The job's task is done: its slot is free and its outcome written (or given up)."""
        self._free_slot(running)
        if task is not None:
            self._writing.discard(task)

    def _handler_returned(self, running: _RunningJob) -> None:
        """Free the job's slot while its outcome is still being written; shutdown waits for
        that write through ``_writing``."""
        # The current task, not running.task: with an eager start the handler can return
        # before _start has stored the task.
        task = asyncio.current_task()
        if task is not None:
            self._writing.add(task)
        self._free_slot(running)

    async def run_until_idle(self) -> None:
        """Run jobs until none is claimable at ``clock.now()`` and none is in flight."""
        heartbeats = None
        if self._state is not _State.RUNNING:
            heartbeats = asyncio.create_task(self._heartbeat_loop(), name="burrow-heartbeat")
        try:
            while True:
                claimed = await self.claim_batch()
                tasks = {r.task for r in self._running.values() if r.task is not None}
                tasks |= self._writing
                if not tasks:
                    if claimed or self._ready:  # they finished inside the claim (eager start)
                        continue
                    return
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if heartbeats is not None:
                heartbeats.cancel()
                await asyncio.gather(heartbeats, return_exceptions=True)

    # --- running one job -----------------------------------------------------------------------

    async def _execute(
        self, running: _RunningJob, registration: Registration | None, capture: ResultCapture
    ) -> None:
        """The job's task, run in its own context (``job_context``): ``current_job()`` is
        this job and ``capture`` takes its result."""
        job = running.job
        try:
            try:
                if registration is None:  # cannot happen: only registered types are claimed
                    raise UnknownJobType(job.type, self._registry)
                data = job.payload.encode()
                if registration.is_async:
                    # Awaited right here, not in a coroutine of its own: one frame less per
                    # job. An async registration's handler returns its coroutine.
                    coroutine = registration.handler(data)
                    assert coroutine is not None
                    await coroutine
                else:
                    await self._run_sync(running, registration.handler, data)
            finally:
                running.handler_done = True
        except asyncio.CancelledError as cancelled:
            reason = running.stop_reason
            task = asyncio.current_task()
            if task is None:
                raise
            if reason is None:
                if task.cancelling():
                    raise  # cancelled from outside the engine: not this job's outcome
                # The handler raised it itself (say, it awaited a future someone else
                # cancelled): a failure like any other, not a job left running unheld.
                self._handler_returned(running)
                await self._fail(job, cancelled)
                return
            task.uncancel()
            if reason is StopReason.SHUTDOWN:
                await self._release(job)
            else:
                logger.info("burrow: job %s (%s) stopped: %s", job.id, job.type, reason.value)
        except BaseException as error:
            # Whatever else a handler raises fails its job, never leaves it running unheld,
            # and never ends the app's process: SystemExit (a job that calls sys.exit(),
            # argparse refusing its arguments, say), and KeyboardInterrupt too, which only
            # the handler's own code raises here (Ctrl-C reaches the app's main task, and
            # never a handler's daemon thread).
            self._handler_returned(running)
            await self._fail(job, error)
        else:
            result = None if capture.data is None else capture.data.decode()
            batches = self._batches
            if batches is not None:
                self._free_slot(running)
                self._add_completion(batches, job, result)
            else:
                self._handler_returned(running)
                await self._complete(job, result)
        finally:
            # The current task, not running.task: an eager task can end inside _start.
            self._finished(running, asyncio.current_task())

    @staticmethod
    async def _run_sync(running: _RunningJob, handler: Callable[[bytes], Any], data: bytes) -> None:
        """A sync handler, on a daemon thread; an awaitable it returns is awaited here."""
        outcome = await run_on_daemon_thread(handler, data)
        if not inspect.isawaitable(outcome):
            return
        # Awaited here, on the event loop: from now on a stop cancels it as it would an
        # async handler; one that came while the thread ran stops it now.
        running.awaits_on_loop = True
        if running.stop_reason is not None:
            _close(outcome)
            raise asyncio.CancelledError
        await outcome

    async def _written(self, write: Callable[[], Awaitable[bool]], what: str) -> bool | None:
        """An outcome write's verdict; when it fails (the store is away), tried again
        (``recording.py``) for as long as the job's lease can be valid: its heartbeats ended
        with its handler, so a rescue may take it ``stale_timeout`` later."""
        try:
            return await write()
        except Exception as failure:
            return await self._retry_outcome(write, failure, what)

    async def _retry_outcome(
        self, write: Callable[[], Awaitable[bool]], failure: Exception, what: str
    ) -> bool | None:
        return await retry_outcome(
            write,
            failure,
            clock=self._clock,
            give_up_after=self._config.stale_timeout,
            max_delay=self._config.heartbeat_interval,
            what=what,
        )

    def _add_completion(
        self, store: CompletesInBatches, job: ClaimedJob, result: str | None
    ) -> None:
        """Queue a completion for the batch of this turn of the event loop; the first one
        of a batch starts its writer (a task that runs from the next turn, when every job
        finishing in this one has joined). Shutdown waits for it through ``_writing``."""
        self._completed.append((job, result))
        if len(self._completed) == 1:
            writer = asyncio.get_running_loop().create_task(
                self._write_completions(store),
                name="burrow-completions",
                context=self._pool_context.copy(),
            )
            self._writing.add(writer)
            writer.add_done_callback(self._writing.discard)

    async def _write_completions(self, store: CompletesInBatches) -> None:
        batch, self._completed = self._completed, []
        now = self._clock.now()
        completions = [Completion(job.id, job.lease, result) for job, result in batch]
        try:
            verdicts: list[bool | None] = [*await store.jobs_complete(completions, now=now)]
            if len(verdicts) != len(batch):
                raise RuntimeError(
                    f"the store's jobs_complete returned {len(verdicts)} verdicts for "
                    f"{len(batch)} completions"
                )
        except Exception as failure:
            # None of them was written: the batch was each one's first try, and each is tried
            # again on its own, as a single write that failed (so one bad row fails only its
            # own job).
            verdicts = await asyncio.gather(
                *(self._complete_again(job, result, now, failure) for job, result in batch)
            )
        for (job, _), written in zip(batch, verdicts, strict=True):
            if written is not None:
                self._completion_logged(job, written)

    def _completion_logged(self, job: ClaimedJob, written: bool) -> None:
        if written:
            if self._log_completions:
                logger.debug("burrow: job %s (%s) completed", job.id, job.type)
        else:
            logger.info("burrow: job %s finished but no longer held: outcome refused", job.id)

    async def _complete(self, job: ClaimedJob, result: str | None) -> None:
        now = self._clock.now()
        # The first try inline (as ``_written`` would make it): every job passes here.
        try:
            written: bool | None = await self._store.job_complete(
                job.id, job.lease, result=result, now=now
            )
        except Exception as failure:
            written = await self._complete_again(job, result, now, failure)
        if written is not None:
            self._completion_logged(job, written)

    async def _complete_again(
        self, job: ClaimedJob, result: str | None, now: datetime, failure: Exception
    ) -> bool | None:
        return await self._retry_outcome(
            partial(self._store.job_complete, job.id, job.lease, result=result, now=now),
            failure,
            f"job {job.id} as completed",
        )

    async def _fail(self, job: ClaimedJob, error: BaseException) -> None:
        now = self._clock.now()
        when = retry_at(
            now=now,
            base=self._config.retry_base_delay,
            attempt=job.attempts,
            max_retries=job.max_retries,
        )
        record = job_error(error)
        written = await self._written(
            partial(
                self._store.job_fail,
                job.id,
                job.lease,
                error=record,
                retry_at=when,
                now=now,
            ),
            f"the failure of job {job.id}",
        )
        if written is None:
            return
        if not written:
            logger.info("burrow: job %s failed but no longer held: outcome refused", job.id)
        elif when is None:
            logger.warning(
                "burrow: job %s (%s) is dead after attempt %d/%d: %s",
                job.id,
                job.type,
                job.attempts,
                job.max_retries,
                record.message,
            )
        else:
            logger.info(
                "burrow: job %s (%s) failed attempt %d/%d, retry at %s: %s",
                job.id,
                job.type,
                job.attempts,
                job.max_retries,
                when.isoformat(),
                record.message,
            )

    async def _release(self, job: ClaimedJob) -> None:
        now = self._clock.now()
        await self._written(
            partial(self._store.job_release, job.id, job.lease, now=now),
            f"the release of job {job.id} at shutdown",
        )

    # --- stopping handlers -------------------------------------------------------------------

    def stop_job(self, job_id: JobId, reason: StopReason) -> bool:
        """Stop the handler of ``job_id`` if this pool runs it; True if it did."""
        found = [r for r in self._held() if r.job.id == job_id]
        for running in found:
            self._stop(running, reason)
        return bool(found)

    def _stop(self, running: _RunningJob, reason: StopReason) -> None:
        if running.task is None and running in self._ready:
            # Claimed ahead and not started: it never will be.
            self._ready.remove(running)
            logger.info(
                "burrow: job %s (%s) dropped before it started: %s",
                running.job.id,
                running.job.type,
                reason.value,
            )
            return
        if running.handler_done or running.task is None:
            return
        first = running.stop_reason is None
        if first:
            running.stop_reason = reason
            running.context.request_cancel()
        if running.is_async:
            if first:
                running.task.cancel()
        elif reason is StopReason.SHUTDOWN:
            # A sync handler cannot be interrupted: it sees cancel_requested and its outcome
            # is refused by the lease. At shutdown we stop waiting for it (the thread runs on),
            # also when it was told to stop earlier and has not.
            running.task.cancel()

    # --- heartbeats, notifications, maintenance ----------------------------------------------

    async def _heartbeat_loop(self) -> None:
        # One loop for all jobs: a job claimed between two ticks is renewed at the next one,
        # never later than one interval after its claim.
        while True:
            await self._clock.sleep(self._config.heartbeat_interval)
            await self.heartbeat()

    def _held(self) -> list[_RunningJob]:
        return [*self._running.values(), *self._ready]

    async def heartbeat(self, jobs: list[_RunningJob] | None = None) -> None:
        """Renew the leases of ``jobs`` (default: every job held, running or claimed ahead);
        stop those refused."""
        now = self._clock.now()
        renewals = [
            self._renew(running, now)
            for running in (self._held() if jobs is None else jobs)
            if running.stop_reason is None and not running.handler_done
        ]
        # All at once: one the database is slow to answer does not hold back the others
        # (a store may also write them together, as the SQL store's group commit does).
        await asyncio.gather(*renewals)

    async def _renew(self, running: _RunningJob, now: datetime) -> None:
        job = running.job
        try:
            held = await self._store.job_heartbeat(job.id, job.lease, now=now)
        except Exception as error:
            warn_in_one_line("burrow: heartbeat of job %s failed: %s", job.id, error=error)
            return
        if not held:
            self._stop(running, StopReason.LEASE_LOST)

    async def _notification_loop(self) -> None:
        try:
            async for note in self._store.notifications():
                if note.kind is NotificationKind.AVAILABLE:
                    self._wake.set()
                elif note.job_id is None:
                    await self.heartbeat()
                else:
                    # A notification is a hint: the heartbeat's refusal is the proof.
                    named = [r for r in self._held() if r.job.id == note.job_id]
                    await self.heartbeat(named)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("burrow: store notifications failed; relying on polling")
        else:
            # A store that closes ends its notifications; one that ends them while the pool
            # still runs leaves cancels to the heartbeats and new work to the poll.
            if self._state is _State.RUNNING:
                logger.warning("burrow: store notifications ended; relying on polling")

    async def _maintenance_loop(self) -> None:
        while True:
            await self.maintain()
            await self._clock.sleep(self._config.maintenance_interval)

    async def maintain(self) -> MaintenanceReport:
        """Rescue stale running jobs and delete old completed ones; each pass survives the
        other's errors."""
        now = self._clock.now()
        report = MaintenanceReport()
        try:
            report.rescued.extend(
                await self._store.jobs_rescue(
                    stale_before=now - self._config.stale_timeout, now=now
                )
            )
        except Exception as error:
            self._rescue_failures.failed(error)
            report.errors.append(f"rescue: {error}")
        else:
            self._rescue_failures.succeeded()
        if report.rescued:
            logger.warning("burrow: rescued stale jobs %s", ", ".join(report.rescued))
            self._wake.set()
        try:
            deleted = await self._store.jobs_delete_completed(
                completed_before=now - self._config.completed_retention
            )
        except Exception as error:
            self._cleanup_failures.failed(error)
            report.errors.append(f"cleanup: {error}")
            deleted = 0
        else:
            self._cleanup_failures.succeeded()
        return MaintenanceReport(report.rescued, deleted, report.errors)
