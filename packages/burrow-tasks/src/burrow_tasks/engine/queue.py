"""``JobQueue``: the engine behind the ``Queue`` protocol.

It registers handlers, validates and encodes payloads at enqueue, carries out operator
actions, and owns the worker pool that runs the jobs. Every time it passes to the store and
every wait it makes comes from its clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType, TracebackType
from typing import Any

import pluggy

from burrow_tasks.clock import Clock, SystemClock, require_aware
from burrow_tasks.codec import JsonCodec, PayloadCodec
from burrow_tasks.config import JobsConfig
from burrow_tasks.engine.pool import MaintenanceReport, StopReason, WorkerPool
from burrow_tasks.engine.registry import Registration
from burrow_tasks.errors import JobLimitError, JobNotFound, PayloadError, UnknownJobType
from burrow_tasks.jobs import Job, NewJob
from burrow_tasks.options import JobOption, check_type_name, resolve_config
from burrow_tasks.plugins import get_plugin_manager, register_jobs
from burrow_tasks.queue_protocols import JobHandler
from burrow_tasks.store import JobStore
from burrow_tasks.tasks import is_async_callable
from burrow_tasks.types import JobId, JobStatus
from burrow_tasks.workers import PoolStatus

__all__ = ["JobQueue", "MaintenanceReport"]

logger = logging.getLogger("burrow_tasks")

# UTF-8 takes at most 4 bytes per character: texts this short need no byte count.
_UTF8_MAX_BYTES_PER_CHAR = 4


class JobQueue:
    """A job queue on ``store``: enqueue from anywhere, and (after ``start()``) run handlers.

    :param store: the backend (see ``burrow_tasks.store.JobStore``).
    :param config: worker settings; default ``JobsConfig()``.
    :param clock: where every ``now`` and every wait comes from; ``FakeClock`` in tests.
    :param values: anything handlers need, read through ``current_job().values`` (e.g. a
        Jinja2 environment).
    :param plugin_manager: call ``burrow_register_jobs(queue)`` on its plugins once, now.
    :param plugins: build a plugin manager from the entry-point group ``burrow`` plus these
        plugins (ignored when ``plugin_manager`` is given). Without either, no hook is called.
    """

    def __init__(
        self,
        store: JobStore,
        config: JobsConfig | None = None,
        *,
        clock: Clock | None = None,
        values: Mapping[str, Any] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        plugins: Sequence[object] = (),
    ) -> None:
        self._store = store
        self._config = config if config is not None else JobsConfig()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._values: Mapping[str, Any] = MappingProxyType(dict(values or {}))
        self._registry: dict[str, Registration] = {}
        self._pool = WorkerPool(store, self._config, self._clock, self._registry, self._values)
        self._owns_store = False
        self._shutting_down: asyncio.Task[None] | None = None
        if plugin_manager is None and plugins:
            plugin_manager = get_plugin_manager(plugins)
        self._plugin_manager = plugin_manager
        if plugin_manager is not None:
            register_jobs(plugin_manager, self)

    # --- properties ----------------------------------------------------------------------------

    @property
    def store(self) -> JobStore:
        return self._store

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def config(self) -> JobsConfig:
        return self._config

    @property
    def values(self) -> Mapping[str, Any]:
        return self._values

    @property
    def plugin_manager(self) -> pluggy.PluginManager | None:
        return self._plugin_manager

    @property
    def registered_types(self) -> tuple[str, ...]:
        """The job types this queue has handlers for, sorted."""
        return tuple(sorted(self._registry))

    @property
    def worker_id(self) -> str:
        """This queue's id in ``workers_list`` (host, pid and a random part)."""
        return self._pool.worker_id

    @property
    def done(self) -> asyncio.Event:
        """Set when the pool has stopped (after ``shutdown()``)."""
        return self._pool.done

    # --- registering -------------------------------------------------------------------------

    def handle(
        self,
        type_name: str,
        handler: JobHandler,
        *options: JobOption,
        max_retries: int = 3,
        priority: int = 0,
        codec: PayloadCodec[Any] | None = None,
    ) -> None:
        """Run ``handler`` for jobs of ``type_name``; registering a type again replaces it.

        ``handler`` takes the payload as UTF-8 JSON bytes; async handlers run on the event
        loop, sync ones on daemon threads. ``max_retries`` is the maximum number of
        executions: 3 means at most three runs, then the job is dead. ``options``
        (``with_max_retries``, ``with_priority``) apply over the keywords. ``codec`` encodes
        payloads at enqueue (default: any JSON-serialisable value).
        """
        check_type_name(type_name)
        if not callable(handler):
            raise TypeError(f"the handler for {type_name!r} must be callable, got {handler!r}")
        config = resolve_config(options, max_retries=max_retries, priority=priority)
        self._registry[type_name] = Registration(
            type_name=type_name,
            handler=handler,
            config=config,
            codec=codec if codec is not None else JsonCodec(),
            is_async=is_async_callable(handler),
        )

    def _registration(self, type_name: str) -> Registration:
        registration = self._registry.get(type_name)
        if registration is None:
            raise UnknownJobType(type_name, self._registry)
        return registration

    # --- enqueue ---------------------------------------------------------------------------------

    async def enqueue(self, type_name: str, payload: Any, *, using: Any = None) -> JobId:
        """Enqueue one job of ``type_name`` to run now; returns its id."""
        registration = self._registration(type_name)
        now = self._clock.now()
        text = self._encode(registration, payload)
        ids = await self._insert(registration, [text], run_at=now, now=now, using=using)
        return ids[0]

    async def enqueue_at(
        self, type_name: str, payload: Any, run_at: datetime, *, using: Any = None
    ) -> JobId:
        """Enqueue one job to run at ``run_at`` (timezone-aware; naive is refused)."""
        registration = self._registration(type_name)
        when = _aware_run_at(run_at)
        text = self._encode(registration, payload)
        now = self._clock.now()
        ids = await self._insert(registration, [text], run_at=when, now=now, using=using)
        return ids[0]

    async def enqueue_batch(
        self, type_name: str, payloads: Sequence[Any], *, using: Any = None
    ) -> list[JobId]:
        """Enqueue one job per payload in one all-or-nothing insert; ids in input order.

        The type is checked first (also for an empty batch, which returns ``[]``); every
        payload is encoded before anything is written, and an error names the failing index.
        """
        registration = self._registration(type_name)
        texts = self._encode_all(registration, payloads)
        if not texts:
            return []
        now = self._clock.now()
        return await self._insert(registration, texts, run_at=now, now=now, using=using)

    async def enqueue_batch_at(
        self, type_name: str, payloads: Sequence[Any], run_at: datetime, *, using: Any = None
    ) -> list[JobId]:
        """``enqueue_batch`` with one ``run_at`` (timezone-aware) for every job."""
        registration = self._registration(type_name)
        when = _aware_run_at(run_at)
        texts = self._encode_all(registration, payloads)
        if not texts:
            return []
        now = self._clock.now()
        return await self._insert(registration, texts, run_at=when, now=now, using=using)

    def _encode(self, registration: Registration, payload: Any) -> str:
        try:
            text = registration.codec.encode(payload)
        except PayloadError as error:
            raise PayloadError(f"cannot enqueue {registration.type_name!r}: {error}") from error
        self._check_size(registration, text)
        return text

    def _encode_all(self, registration: Registration, payloads: Sequence[Any]) -> list[str]:
        if isinstance(payloads, str | bytes) or not isinstance(payloads, Sequence):
            raise TypeError(
                f"enqueue_batch takes a sequence of payloads, got {type(payloads).__name__}"
            )
        texts: list[str] = []
        for index, payload in enumerate(payloads):
            try:
                texts.append(self._encode(registration, payload))
            except PayloadError as error:
                raise PayloadError(f"batch payload {index} of {len(payloads)}: {error}") from error
        return texts

    def _check_size(self, registration: Registration, text: str) -> None:
        limit = self._config.max_payload_bytes
        if len(text) * _UTF8_MAX_BYTES_PER_CHAR <= limit:
            return
        size = len(text.encode())
        if size > limit:
            raise PayloadError(
                f"cannot enqueue {registration.type_name!r}: the payload is {size} bytes of "
                f"JSON, over the limit of {limit} (--jobs-max-payload-bytes)"
            )

    async def _insert(
        self,
        registration: Registration,
        texts: list[str],
        *,
        run_at: datetime,
        now: datetime,
        using: Any,
    ) -> list[JobId]:
        config = registration.config
        type_name, priority, max_retries = (
            registration.type_name,
            config.priority,
            config.max_retries,
        )
        # Positional: a quarter cheaper than keywords for a frozen dataclass, once per job
        # of a batch.
        rows = [NewJob(type_name, text, priority, max_retries, run_at) for text in texts]
        ids = await self._store.jobs_insert(rows, now=now, using=using)
        if run_at <= now and using is None:
            self._pool.wake()
        return ids

    # --- operator actions ------------------------------------------------------------------------

    async def dequeue(self, job_id: JobId) -> None:
        """Cancel a pending, failed or running job: it goes dead, marked cancelled. If this
        queue runs it, its async handler is cancelled at once (a sync one sees
        ``current_job().cancel_requested``). Raises ``JobNotFound`` or ``InvalidJobStatus``."""
        await self._store.job_cancel(job_id, now=self._clock.now())
        self._pool.stop_job(job_id, StopReason.CANCELLED)

    async def retry(self, job_id: JobId) -> None:
        """Run a failed or dead job again, now, as if new. Raises ``JobNotFound`` or
        ``InvalidJobStatus``."""
        await self._store.job_retry(job_id, now=self._clock.now())
        self._pool.wake()

    async def delete(self, job_id: JobId) -> None:
        """Delete a job whatever its status; a running handler held here is stopped.
        Raises ``JobNotFound``."""
        await self._store.job_delete(job_id)
        self._pool.stop_job(job_id, StopReason.CANCELLED)

    # --- reads ---------------------------------------------------------------------------------

    async def get_job(self, job_id: JobId) -> Job:
        """The stored job; ``JobNotFound`` for an unknown id."""
        job = await self._store.job_get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    async def get_result(self, job_id: JobId) -> Any:
        """The decoded JSON result of a completed job; None while it is not completed or for
        a task without a result. ``JobNotFound`` for an unknown id."""
        job = await self.get_job(job_id)
        if job.status is not JobStatus.COMPLETED or job.result is None:
            return None
        return json.loads(job.result)

    # --- running -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker pool (``config.workers`` concurrent jobs). Enqueueing needs no
        start; a queue that never starts runs nothing."""
        await self._pool.start()

    async def shutdown(self) -> None:
        """Stop gracefully: stop claiming, wait up to ``config.shutdown_grace`` for running
        handlers, then cancel async ones and release every job still held (pending again, or
        dead if it was the last attempt). ``done`` is set at the end. Closes the store when
        the queue opened it (``open_queue``). Safe to call more than once, and to cancel (a
        timeout around it): the shutdown then goes on to its end in the background."""
        if self._shutting_down is None:
            self._shutting_down = asyncio.create_task(self._shut_down(), name="burrow-stop")
        await asyncio.shield(self._shutting_down)

    async def _shut_down(self) -> None:
        try:
            await self._pool.shutdown()
        finally:
            if self._owns_store:
                self._owns_store = False
                await self._store.close()

    def status(self) -> PoolStatus:
        """This process's pool: not started, running, stalled or stopped, with workers,
        jobs in flight and the last poll."""
        return self._pool.status()

    @property
    def in_flight(self) -> int:
        """How many jobs this queue is running now."""
        return self._pool.in_flight

    async def run_until_idle(self) -> None:
        """Run jobs until none is claimable at ``clock.now()`` and none is in flight.

        Works with or without ``start()``; with a ``FakeClock`` it never sleeps (a handler
        that waits on the clock waits until the test advances it).
        """
        await self._pool.run_until_idle()

    async def run_maintenance(self) -> MaintenanceReport:
        """One maintenance pass now: rescue stale jobs, delete old completed ones."""
        return await self._pool.maintain()

    async def __aenter__(self) -> JobQueue:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.shutdown()

    def __repr__(self) -> str:
        return f"JobQueue({self._store!r}, types={list(self.registered_types)})"


def _aware_run_at(run_at: datetime) -> datetime:
    if not isinstance(run_at, datetime):
        raise JobLimitError(f"run_at must be a datetime, got {type(run_at).__name__}")
    try:
        return require_aware(run_at, "run_at")
    except ValueError as error:
        raise JobLimitError(str(error)) from None
