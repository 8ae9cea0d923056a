"""burrow demo: typed tasks on the memory store, run by a real worker pool.

    python examples/demo/demo.py

Enqueues three tasks and prints what the pool does with them: one fails twice and then
succeeds, one returns a result, one is scheduled two seconds ahead. Exits by itself once all
three are done (in about three seconds).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from datetime import timedelta

from burrow_jobs_memory import MemoryStore
from burrow_tasks import (
    JobQueue,
    JobsConfig,
    JobStatus,
    current_job,
    define_result_task,
    task,
)

# Fast settings so the demo finishes in seconds: retries after 0.2 s, 0.4 s, ...
CONFIG = JobsConfig(
    workers=2,
    poll_interval=timedelta(milliseconds=50),
    retry_base_delay=timedelta(milliseconds=200),
    shutdown_grace=timedelta(seconds=2),
)


def say(message: str) -> None:
    print(message, flush=True)


@dataclasses.dataclass
class Delivery:
    address: str


@dataclasses.dataclass
class Invoice:
    customer: str
    amounts: list[int]


@dataclasses.dataclass
class Reminder:
    text: str


@task("deliver-parcel", max_retries=3)
async def deliver_parcel(payload: Delivery) -> None:
    job = current_job()
    say(f"  claimed  {job.type} #{job.id} (attempt {job.attempt}/{job.max_retries})")
    if job.attempt < 3:
        raise ConnectionError(f"courier unreachable for {payload.address}")
    say(f"  delivered parcel to {payload.address}")


def total_invoice(payload: Invoice) -> dict[str, object]:
    job = current_job()
    say(f"  claimed  {job.type} #{job.id} (sync handler on a worker thread)")
    return {"customer": payload.customer, "total": sum(payload.amounts)}


invoice_total = define_result_task("invoice-total", total_invoice)


@task("send-reminder")
async def send_reminder(payload: Reminder) -> None:
    job = current_job()
    say(f"  claimed  {job.type} #{job.id}: {payload.text!r}")


async def main() -> int:
    # Show the engine's retry decisions as they happen.
    logging.basicConfig(format="  engine   %(message)s", level=logging.INFO, stream=sys.stdout)
    logging.getLogger("burrow_tasks").setLevel(logging.INFO)

    queue = JobQueue(MemoryStore(), CONFIG)
    for definition in (deliver_parcel, invoice_total, send_reminder):
        definition.register(queue)

    say("enqueueing three jobs")
    parcel = await deliver_parcel.enqueue(Delivery(address="221B Baker Street"))
    invoice = await invoice_total.enqueue(Invoice(customer="ada", amounts=[1200, 350, 99]))
    later = queue.clock.now() + timedelta(seconds=2)
    reminder = await send_reminder.enqueue_at(Reminder(text="water the plants"), later)
    say(f"  send-reminder #{reminder} scheduled for {later:%H:%M:%S}")

    await queue.start()
    ids = [parcel, invoice, reminder]
    finished = {JobStatus.COMPLETED, JobStatus.DEAD}
    for _ in range(200):  # at most 10 s
        jobs = [await queue.get_job(job_id) for job_id in ids]
        if all(job.status in finished for job in jobs):
            break
        await asyncio.sleep(0.05)
    await queue.shutdown()

    say("final state")
    ok = True
    for job_id in ids:
        job = await queue.get_job(job_id)
        ok = ok and job.status is JobStatus.COMPLETED
        say(f"  {job.type:15} #{job.id}: {job.status.value} after {job.attempts} attempt(s)")
    say(f"  invoice result: {await queue.get_result(invoice)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
