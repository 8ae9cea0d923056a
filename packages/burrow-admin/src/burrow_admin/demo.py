"""Demo data for trying the admin and for its screenshots and browser tests.

``seed_demo(store, now)`` fills any store (through the store interface alone) with an hour
of plausible history: completed and dead jobs spread over the last hour, failed jobs waiting
for a retry, scheduled and prioritised pending jobs, one running job, and a worker pool that
another process reports. Nothing here runs a handler.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from burrow_admin.app import create_admin
from burrow_admin.types import AdminQueue
from burrow_tasks.jobs import JobError, NewJob, WorkerInfo, WorkerState
from burrow_tasks.store import JobStore
from burrow_tasks.types import JobId

__all__ = ["HANDLED_TYPES", "DemoJobs", "seed_demo"]

HANDLED_TYPES: tuple[str, ...] = (
    "send-welcome-email",
    "generate-report",
    "resize-image",
    "deliver-webhook",
)
"""The types the demo's worker pool reports; ``sync-crm`` is left unhandled on purpose."""

_TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/jobs/webhooks.py", line 42, in deliver_webhook
    response.raise_for_status()
  File "/srv/app/.venv/lib/python3.12/site-packages/httpx/_models.py", line 829, in raise_for_status
    raise HTTPStatusError(message, request=request, response=self)
httpx.HTTPStatusError: Server error '503 Service Unavailable' for url 'https://hooks.example.com/orders'
"""


@dataclass(frozen=True, slots=True)
class DemoJobs:
    """Ids of a few seeded jobs that tests and screenshots open directly."""

    dead: JobId
    failed: JobId
    pending: JobId
    scheduled: JobId
    unhandled: JobId
    running: JobId
    completed: JobId


def _payload(index: int, type_name: str) -> str:
    if type_name == "send-welcome-email":
        return json.dumps(
            {"email": f"user{index}@example.com", "locale": "de" if index % 3 else "en"}
        )
    if type_name == "generate-report":
        return json.dumps({"user_id": 1000 + index, "format": "pdf", "range": "2026-Q1"})
    if type_name == "resize-image":
        return json.dumps({"image_id": f"img_{index:05d}", "sizes": [64, 256, 1024]})
    return json.dumps(
        {"url": "https://hooks.example.com/orders", "event": "order.paid", "order": 5000 + index}
    )


async def _run(
    store: JobStore,
    type_name: str,
    *,
    at: datetime,
    index: int,
    priority: int = 0,
    max_retries: int = 3,
    duration: timedelta = timedelta(seconds=2),
    error: JobError | None = None,
    result: str | None = None,
) -> JobId:
    """Insert one job and take it through one run ending ``duration`` after ``at``."""
    new = NewJob(type_name, _payload(index, type_name), priority, max_retries, at)
    [job_id] = await store.jobs_insert([new], now=at)
    [claimed] = await store.jobs_claim(1, types=[type_name], now=at)
    end = at + duration
    if error is None:
        await store.job_complete(claimed.id, claimed.lease, result=result, now=end)
    else:
        retry_at = None if claimed.attempts >= claimed.max_retries else end + timedelta(minutes=2)
        await store.job_fail(claimed.id, claimed.lease, error=error, retry_at=retry_at, now=end)
    return job_id


async def seed_demo(store: JobStore, now: datetime) -> DemoJobs:
    """Fill ``store`` with an hour of history up to ``now``; return some notable ids."""
    start = now - timedelta(minutes=59)
    types = HANDLED_TYPES
    completed: JobId = ""
    for minute in range(60):
        # A steady load with a busier stretch around minute 40.
        per_minute = 2 + (minute * 7) % 5 + (6 if 36 <= minute <= 44 else 0)
        for n in range(per_minute):
            at = start + timedelta(minutes=minute, seconds=n * 50 / per_minute)
            if at + timedelta(seconds=2) > now:
                continue
            type_name = types[(minute + n) % len(types)]
            result = (
                json.dumps({"url": f"https://files.example.com/r/{minute}-{n}.pdf"})
                if type_name == "generate-report"
                else None
            )
            completed = await _run(store, type_name, at=at, index=minute * 10 + n, result=result)
    outage = JobError(
        message="Server error '503 Service Unavailable' for url 'https://hooks.example.com/orders'",
        error_class="httpx.HTTPStatusError",
        traceback=_TRACEBACK,
    )
    dead = ""
    for n in range(5):
        at = start + timedelta(minutes=41, seconds=n * 9)
        dead = await _run(
            store, "deliver-webhook", at=at, index=900 + n, max_retries=1, error=outage
        )
    failed = await _run(
        store,
        "resize-image",
        at=now - timedelta(seconds=40),
        index=950,
        error=JobError("image too large: 48000x32000 pixels", "builtins.ValueError"),
    )
    pending_ids = await store.jobs_insert(
        [
            NewJob("send-welcome-email", _payload(960 + i, "send-welcome-email"), 0, 3, now)
            for i in range(3)
        ],
        now=now,
    )
    [urgent] = await store.jobs_insert(
        [NewJob("generate-report", _payload(970, "generate-report"), 10, 5, now)], now=now
    )
    [scheduled] = await store.jobs_insert(
        [
            NewJob(
                "generate-report", _payload(971, "generate-report"), 0, 3, now + timedelta(hours=2)
            )
        ],
        now=now,
    )
    [unhandled] = await store.jobs_insert(
        [NewJob("sync-crm", json.dumps({"account": "acme", "full": True}), 0, 3, now)], now=now
    )
    [running_id] = await store.jobs_insert(
        [NewJob("resize-image", _payload(980, "resize-image"), 0, 3, now - timedelta(seconds=5))],
        now=now - timedelta(seconds=5),
    )
    await store.jobs_claim(1, types=["resize-image"], now=now - timedelta(seconds=5))
    await store.worker_beat(
        WorkerInfo(
            id=f"{socket.gethostname()}-{os.getpid()}-demo",
            hostname="worker-1.internal",
            pid=4242,
            state=WorkerState.RUNNING,
            workers=4,
            in_flight=1,
            poll_interval=timedelta(seconds=1),
            types=HANDLED_TYPES,
            started_at=now - timedelta(hours=3),
            last_poll_at=now,
        ),
        now=now,
    )
    del urgent
    return DemoJobs(
        dead=dead,
        failed=failed,
        pending=pending_ids[-1],
        scheduled=scheduled,
        unhandled=unhandled,
        running=running_id,
        completed=completed,
    )


def build_demo_app(queue: AdminQueue) -> Starlette:
    """A host app with the admin mounted at ``/admin/jobs``, open to anyone: a local demo."""

    async def home(request: Request) -> HTMLResponse:
        target = request.url_for("jobs_admin:job_list").path
        return HTMLResponse(f'<!doctype html><title>Demo</title><a href="{target}">Jobs admin</a>')

    admin = create_admin(queue, allow_anonymous=True, secret_key=secrets.token_urlsafe(32))
    return Starlette(routes=[Route("/", home), Mount("/admin/jobs", app=admin, name="jobs_admin")])


@contextmanager
def serve_in_thread(app: Starlette, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a background thread; yield its base URL.

    Needs ``uvicorn`` (a test and demo dependency, not a runtime one).
    """
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="burrow-admin-demo", daemon=True)
    thread.start()
    try:
        # Bounded wait for the socket; no timing is asserted, a slow start only waits longer.
        for _ in range(1000):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.01)
        if not server.started:
            raise RuntimeError("the demo server did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
