"""The job context handlers read, and result capture."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime

import pytest

from burrow_tasks import (
    JobContext,
    JobQueue,
    PayloadError,
    ResultCapture,
    capture_result,
    current_job,
    with_result_capture,
)


def test_current_job_outside_a_handler_raises() -> None:
    with pytest.raises(RuntimeError, match="outside a job handler"):
        current_job()


async def test_a_handler_sees_its_job_in_current_job(queue: JobQueue) -> None:
    seen: list[tuple[str, str, int, int]] = []

    async def handler(payload: bytes) -> None:
        job = current_job()
        seen.append((job.id, job.type, job.attempt, job.max_retries))

    queue.handle("ctx", handler, max_retries=4)
    job_id = await queue.enqueue("ctx", None)
    await queue.run_until_idle()

    assert seen == [(job_id, "ctx", 1, 4)]


async def test_handlers_running_at_once_each_see_their_own_job(queue: JobQueue) -> None:
    both_started = asyncio.Event()
    started: list[str] = []
    seen: dict[str, str] = {}

    async def handler(payload: bytes) -> None:
        started.append(current_job().id)
        if len(started) == 2:
            both_started.set()
        await both_started.wait()  # the other job ran in between
        seen[current_job().id] = json.loads(payload)["name"]

    queue.handle("ctx", handler)
    first = await queue.enqueue("ctx", {"name": "first"})
    second = await queue.enqueue("ctx", {"name": "second"})
    await queue.run_until_idle()

    assert seen == {first: "first", second: "second"}


async def test_the_job_does_not_leak_into_the_code_that_ran_it(queue: JobQueue) -> None:
    async def handler(payload: bytes) -> None:
        capture_result(b"1")

    queue.handle("ctx", handler)
    await queue.enqueue("ctx", None)
    await queue.run_until_idle()

    with pytest.raises(RuntimeError, match="outside a job handler"):
        current_job()
    assert capture_result(b"2") is False


async def test_a_sync_handler_sees_its_job_and_the_queue_values(queue: JobQueue) -> None:
    values_queue = JobQueue(queue.store, clock=queue.clock, values={"greeting": "hi"})
    seen: list[object] = []

    def handler(payload: bytes) -> None:
        seen.append(current_job().values["greeting"])

    values_queue.handle("ctx", handler)
    await values_queue.enqueue("ctx", None)
    await values_queue.run_until_idle()

    assert seen == ["hi"]


def _context() -> JobContext:
    return JobContext(
        id="1",
        type="t",
        attempt=1,
        max_retries=3,
        enqueued_at=datetime(2026, 1, 1, tzinfo=UTC),
        values={},
    )


def test_a_cancel_requested_before_the_wait_ends_it_at_once() -> None:
    context = _context()
    context.request_cancel()

    assert context.cancel_requested
    assert context.wait_cancelled(timeout=0)


def test_a_wait_without_a_cancel_times_out_false() -> None:
    context = _context()

    assert context.wait_cancelled(timeout=0.01) is False
    assert not context.cancel_requested


def test_a_handler_thread_waiting_for_a_cancel_wakes_when_it_is_requested() -> None:
    context = _context()
    waiting = threading.Event()
    woke: list[bool] = []

    def handler() -> None:
        waiting.set()
        woke.append(context.wait_cancelled(timeout=30))

    thread = threading.Thread(target=handler)
    thread.start()
    waiting.wait(timeout=30)
    context.request_cancel()
    thread.join(timeout=30)

    assert woke == [True]


def test_capture_result_without_a_capture_does_nothing() -> None:
    assert capture_result(b"1") is False


def test_capture_result_stores_json_bytes_in_the_active_capture() -> None:
    capture = ResultCapture()
    with with_result_capture(capture):
        assert capture_result(b'{"ok": true}')
    assert capture.text == '{"ok": true}'


def test_capture_result_refuses_bytes_that_are_not_json() -> None:
    with with_result_capture(ResultCapture()), pytest.raises(PayloadError, match="not JSON"):
        capture_result(b"{oops")


def test_capture_result_refuses_json_that_is_not_utf8() -> None:
    # json.loads would take UTF-16 bytes; the result is kept as UTF-8 text.
    with with_result_capture(ResultCapture()), pytest.raises(PayloadError, match="not JSON"):
        capture_result('"ok"'.encode("utf-16"))


async def test_a_raw_handler_can_capture_a_result(queue: JobQueue) -> None:
    async def handler(payload: bytes) -> None:
        capture_result(b'"done"')

    queue.handle("raw", handler)
    job_id = await queue.enqueue("raw", None)
    await queue.run_until_idle()

    assert await queue.get_result(job_id) == "done"
