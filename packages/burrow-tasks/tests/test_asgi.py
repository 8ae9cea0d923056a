"""The ASGI lifespan helper: the pool runs exactly as long as the app."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from burrow_jobs_memory import MemoryStore
from burrow_tasks import JobQueue, JobStatus, PoolState, queue_lifespan


def _app(queue: JobQueue, **kwargs: Any) -> Starlette:
    async def signup(request: Request) -> JSONResponse:
        job_id = await queue.enqueue("welcome", {"email": "ada@example.com"})
        return JSONResponse({"job_id": job_id, "pool": queue.status().state.value})

    return Starlette(routes=[Route("/signup", signup, methods=["POST"])], **kwargs)


def test_the_lifespan_runs_the_pool_while_the_app_runs() -> None:
    store = MemoryStore()
    queue = JobQueue(store)
    ran = threading.Event()

    async def welcome(payload: bytes) -> None:
        ran.set()

    queue.handle("welcome", welcome)
    app = _app(queue, lifespan=queue_lifespan(queue))

    with TestClient(app) as client:
        body = client.post("/signup").json()
        assert ran.wait(10)

    assert body["pool"] == PoolState.RUNNING.value
    assert queue.done.is_set()
    job = asyncio.run(store.job_get(body["job_id"]))
    assert job is not None
    assert job.status is JobStatus.COMPLETED


def test_the_lifespan_wraps_the_apps_own_lifespan_and_passes_its_state() -> None:
    queue = JobQueue(MemoryStore())
    events: list[str] = []

    @asynccontextmanager
    async def own(app: Starlette) -> AsyncIterator[dict[str, str]]:
        events.append(f"app start, pool {queue.status().state.value}")
        yield {"greeting": "hello"}
        events.append(f"app stop, pool {queue.status().state.value}")

    async def state(request: Request) -> JSONResponse:
        return JSONResponse({"greeting": request.state.greeting})

    app = Starlette(routes=[Route("/", state)], lifespan=queue_lifespan(queue, own))

    with TestClient(app) as client:
        assert client.get("/").json() == {"greeting": "hello"}

    assert events == ["app start, pool running", "app stop, pool running"]
    assert queue.status().state is PoolState.STOPPED
