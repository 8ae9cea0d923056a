"""The demo's task types, and the buttons on its home page that enqueue them.

Each ``DemoAction`` is one button: what it enqueues, what the jobs do, and the state they
settle in, which the home page shows and the ``--smoke`` run checks through the store.
Handlers log through ``burrow_demo``; the engine logs retries and dead jobs through
``burrow_tasks``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from burrow_tasks import (
    Job,
    JobContext,
    JobId,
    JobQueue,
    JobStatus,
    Queue,
    current_job,
    define_result_task,
    task,
)

__all__ = ["ACTIONS", "ACTIONS_BY_KEY", "SEED", "TASKS", "DemoAction", "register_tasks"]

log = logging.getLogger("burrow_demo")

SLOW_EXPORT_SECONDS = 120
"""How long an export runs unless it is cancelled: long enough to find it in the admin."""

REMINDER_SOON = timedelta(seconds=10)
REMINDER_LATER = timedelta(hours=1)
BATCH_SIZE = 20

# Payload numbering, so the jobs in the admin are told apart by their payloads too.
_numbers = itertools.count(1)


def _started(what: str) -> JobContext:
    job = current_job()
    log.info(
        "claimed    #%s %s (attempt %d/%d) %s", job.id, job.type, job.attempt, job.max_retries, what
    )
    return job


def _finished(job: JobContext, what: str) -> None:
    log.info("finished   #%s %s %s", job.id, job.type, what)


# --- payloads ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Parcel:
    address: str


@dataclasses.dataclass
class Invoice:
    customer: str
    amounts: list[int]


@dataclasses.dataclass
class Reminder:
    text: str


@dataclasses.dataclass
class Thumbnail:
    image: str
    size: int


@dataclasses.dataclass
class Webhook:
    url: str
    event: str


@dataclasses.dataclass
class Export:
    report: str
    rows: int


# --- handlers ---------------------------------------------------------------------------------


@task("deliver-parcel", max_retries=3)
async def deliver_parcel(payload: Parcel) -> None:
    """Fails on its first two attempts (the courier is "unreachable"), succeeds on the third."""
    job = _started(f"to {payload.address}")
    if job.attempt < 3:
        raise ConnectionError(f"courier unreachable for {payload.address}")
    _finished(job, "parcel delivered")


def total_invoice(payload: Invoice) -> dict[str, object]:
    """A sync handler (it runs on a worker thread) whose return value is stored as the result."""
    job = _started(f"for {payload.customer} (sync handler, on a worker thread)")
    total = sum(payload.amounts)
    _finished(job, f"total {total}")
    return {"customer": payload.customer, "total": total}


invoice_total = define_result_task("invoice-total", total_invoice)


@task("send-reminder")
async def send_reminder(payload: Reminder) -> None:
    job = _started(repr(payload.text))
    _finished(job, "reminder sent")


@task("resize-image")
async def resize_image(payload: Thumbnail) -> None:
    job = _started(f"{payload.image} to {payload.size}px")
    await asyncio.sleep(0.25)  # a little work, so a batch is seen running in the admin
    _finished(job, "thumbnail written")


@task("deliver-webhook", max_retries=3)
async def deliver_webhook(payload: Webhook) -> None:
    """Always fails: after its third attempt the job is dead, with the error and traceback."""
    _started(f"{payload.event} to {payload.url}")
    raise ConnectionRefusedError(f"{payload.url} refused the connection")


@task("export-report")
async def export_report(payload: Export) -> None:
    """Runs for two minutes in one-second steps: cancel it from the admin and it stops at once
    (the engine cancels the handler's task; its heartbeat keeps the job's lease alive)."""
    job = _started(f"{payload.report}: {payload.rows} rows, {SLOW_EXPORT_SECONDS} s")
    try:
        for second in range(1, SLOW_EXPORT_SECONDS + 1):
            await asyncio.sleep(1)
            if second % 15 == 0:
                log.info(
                    "working    #%s %s: %d/%d s", job.id, job.type, second, SLOW_EXPORT_SECONDS
                )
    except asyncio.CancelledError:
        # Cancelled from the admin, or the app is shutting down (the job is then released).
        log.info("stopped    #%s %s after its task was cancelled", job.id, job.type)
        raise
    _finished(job, "export written")


class _Registrable(Protocol):
    def register(self, queue: Queue) -> None: ...


TASKS: tuple[_Registrable, ...] = (
    deliver_parcel,
    invoice_total,
    send_reminder,
    resize_image,
    deliver_webhook,
    export_report,
)


def register_tasks(queue: JobQueue) -> None:
    """Bind every demo task to ``queue``: its workers run them, ``enqueue`` writes there."""
    for definition in TASKS:
        definition.register(queue)


# --- the buttons ------------------------------------------------------------------------------


async def _enqueue_flaky(queue: JobQueue) -> list[JobId]:
    n = next(_numbers)
    return [await deliver_parcel.enqueue(Parcel(address=f"{n} Baker Street"))]


async def _enqueue_result(queue: JobQueue) -> list[JobId]:
    n = next(_numbers)
    invoice = Invoice(customer=f"customer-{n}", amounts=[1200, 350, 99 * n])
    return [await invoice_total.enqueue(invoice)]


async def _enqueue_soon(queue: JobQueue) -> list[JobId]:
    n = next(_numbers)
    run_at = queue.clock.now() + REMINDER_SOON
    return [await send_reminder.enqueue_at(Reminder(text=f"water the plants ({n})"), run_at)]


async def _enqueue_later(queue: JobQueue) -> list[JobId]:
    n = next(_numbers)
    run_at = queue.clock.now() + REMINDER_LATER
    return [await send_reminder.enqueue_at(Reminder(text=f"renew the domain ({n})"), run_at)]


async def _enqueue_batch(queue: JobQueue) -> list[JobId]:
    n = next(_numbers)
    sizes = (64, 256, 1024, 2048)
    payloads = [
        Thumbnail(image=f"img_{n:03d}_{i:02d}.jpg", size=sizes[i % len(sizes)])
        for i in range(BATCH_SIZE)
    ]
    return await resize_image.enqueue_batch(payloads)


async def _enqueue_doomed(queue: JobQueue) -> list[JobId]:
    n = next(_numbers)
    webhook = Webhook(url="https://hooks.example.invalid/orders", event=f"order.paid #{n}")
    return [await deliver_webhook.enqueue(webhook)]


async def _enqueue_slow(queue: JobQueue) -> list[JobId]:
    n = next(_numbers)
    return [await export_report.enqueue(Export(report=f"yearly-{n}", rows=1_000_000))]


@dataclasses.dataclass(frozen=True, slots=True)
class DemoAction:
    """One button: ``enqueue`` submits ``jobs`` jobs of ``type_name``; ``settles`` tells
    whether one of them reached the state ``outcome`` describes (what ``--smoke`` waits for)."""

    key: str
    label: str
    outcome: str
    type_name: str
    jobs: int
    enqueue: Callable[[JobQueue], Awaitable[list[JobId]]]
    settles: Callable[[Job], bool]
    cancel_in_admin: bool = False


def _completed_on_attempt(attempt: int) -> Callable[[Job], bool]:
    return lambda job: job.status is JobStatus.COMPLETED and job.attempts == attempt


ACTIONS: tuple[DemoAction, ...] = (
    DemoAction(
        key="flaky",
        label="Deliver a parcel (fails twice, then succeeds)",
        outcome="failed, retried after 2 s and 4 s, completed on attempt 3",
        type_name=deliver_parcel.name,
        jobs=1,
        enqueue=_enqueue_flaky,
        settles=_completed_on_attempt(3),
    ),
    DemoAction(
        key="result",
        label="Total an invoice (stores a result)",
        outcome="completed at once; the detail page shows the result",
        type_name=invoice_total.name,
        jobs=1,
        enqueue=_enqueue_result,
        settles=lambda job: job.status is JobStatus.COMPLETED and job.result is not None,
    ),
    DemoAction(
        key="scheduled",
        label="Schedule a reminder in 10 s",
        outcome="pending for 10 s, then completed",
        type_name=send_reminder.name,
        jobs=1,
        enqueue=_enqueue_soon,
        settles=lambda job: job.status is JobStatus.COMPLETED,
    ),
    DemoAction(
        key="later",
        label="Schedule a reminder in 1 hour",
        outcome="pending; the detail page says why it waits",
        type_name=send_reminder.name,
        jobs=1,
        enqueue=_enqueue_later,
        settles=lambda job: job.status is JobStatus.PENDING and job.attempts == 0,
    ),
    DemoAction(
        key="batch",
        label=f"Resize {BATCH_SIZE} images (one batch insert)",
        outcome=f"{BATCH_SIZE} jobs, running a few at a time, all completed",
        type_name=resize_image.name,
        jobs=BATCH_SIZE,
        enqueue=_enqueue_batch,
        settles=_completed_on_attempt(1),
    ),
    DemoAction(
        key="doomed",
        label="Deliver a webhook (always fails)",
        outcome="fails three times, then dead with its traceback; Retry it from the admin",
        type_name=deliver_webhook.name,
        jobs=1,
        enqueue=_enqueue_doomed,
        settles=lambda job: (
            job.status is JobStatus.DEAD and not job.cancelled and job.attempts == 3
        ),
    ),
    DemoAction(
        key="slow",
        label=f"Export a report (runs {SLOW_EXPORT_SECONDS} s)",
        outcome="running; Cancel it from the admin and the handler stops at once",
        type_name=export_report.name,
        jobs=1,
        enqueue=_enqueue_slow,
        settles=lambda job: job.status is JobStatus.DEAD and job.cancelled,
        cancel_in_admin=True,
    ),
)

ACTIONS_BY_KEY: dict[str, DemoAction] = {action.key: action for action in ACTIONS}

SEED: tuple[str, ...] = (
    "flaky",
    "flaky",
    "result",
    "result",
    "scheduled",
    "later",
    "batch",
    "doomed",
    "slow",
)
"""What the app enqueues when it starts (action keys), so the admin shows every status."""
