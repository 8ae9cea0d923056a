"""Enqueue: the type check, the limits, encoding, batches; nothing written on any failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from burrow_jobs_memory import MemoryStore
from burrow_tasks import (
    FakeClock,
    JobLimitError,
    JobQueue,
    JobsConfig,
    JobStatus,
    PayloadError,
    UnknownJobType,
    with_max_retries,
    with_priority,
)


def _noop(payload: bytes) -> None:
    pass


async def _count(queue: JobQueue) -> int:
    _, total = await queue.store.jobs_list(limit=1)
    return total


async def test_a_queue_that_never_starts_can_enqueue(queue: JobQueue) -> None:
    queue.handle("send", _noop)

    job_id = await queue.enqueue("send", {"to": "ada@example.com"})

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.PENDING
    assert job.payload == '{"to":"ada@example.com"}'


async def test_enqueue_of_an_unknown_type_names_it_and_the_registered_ones(
    queue: JobQueue,
) -> None:
    queue.handle("send", _noop)
    queue.handle("resize", _noop)

    with pytest.raises(UnknownJobType, match=r"'sned'.*'resize', 'send'"):
        await queue.enqueue("sned", {})
    assert await _count(queue) == 0


async def test_a_job_gets_the_settings_of_its_type(queue: JobQueue) -> None:
    queue.handle("send", _noop, with_max_retries(7), with_priority(-5))

    job = await queue.get_job(await queue.enqueue("send", None))

    assert (job.max_retries, job.priority) == (7, -5)


async def test_registering_a_type_again_replaces_it(queue: JobQueue) -> None:
    ran: list[str] = []
    queue.handle("send", lambda payload: ran.append("old"))
    queue.handle("send", lambda payload: ran.append("new"), max_retries=9)

    job = await queue.get_job(await queue.enqueue("send", None))
    await queue.run_until_idle()

    assert job.max_retries == 9
    assert ran == ["new"]


@pytest.mark.parametrize("name", ["", "x" * 201])
def test_a_type_name_outside_1_to_200_characters_is_refused(queue: JobQueue, name: str) -> None:
    with pytest.raises(JobLimitError, match="1-200 characters"):
        queue.handle(name, _noop)


@pytest.mark.parametrize("name", ["send\x00mail", "send \ud800"])
def test_a_type_name_no_database_keeps_is_refused(queue: JobQueue, name: str) -> None:
    with pytest.raises(JobLimitError, match="no NUL character and no lone surrogate"):
        queue.handle(name, _noop)


def test_a_type_name_in_any_script_is_accepted(queue: JobQueue) -> None:
    queue.handle("rapport-é-送信", _noop)


@pytest.mark.parametrize("priority", [2**31, -(2**31) - 1])
def test_a_priority_outside_32_bits_is_refused(queue: JobQueue, priority: int) -> None:
    with pytest.raises(JobLimitError, match="32-bit signed"):
        queue.handle("send", _noop, priority=priority)


@pytest.mark.parametrize("max_retries", [0, 1001])
def test_max_retries_outside_1_to_1000_is_refused(queue: JobQueue, max_retries: int) -> None:
    with pytest.raises(JobLimitError, match="1-1000"):
        queue.handle("send", _noop, max_retries=max_retries)


async def test_a_payload_over_the_size_limit_is_refused_and_nothing_written(
    store: MemoryStore, clock: FakeClock
) -> None:
    queue = JobQueue(store, JobsConfig(max_payload_bytes=100), clock=clock)
    queue.handle("send", _noop)

    with pytest.raises(PayloadError, match="over the limit of 100"):
        await queue.enqueue("send", "é" * 60)  # 60 characters, 120 bytes of UTF-8
    assert await _count(queue) == 0


async def test_the_default_payload_limit_is_one_mebibyte(queue: JobQueue) -> None:
    queue.handle("send", _noop)
    await queue.enqueue("send", "x" * (1024 * 1024 - 2))  # with its quotes: exactly 1 MiB

    with pytest.raises(PayloadError, match="1048577 bytes"):
        await queue.enqueue("send", "x" * (1024 * 1024 - 1))


async def test_a_payload_that_is_not_json_serialisable_is_refused(queue: JobQueue) -> None:
    queue.handle("send", _noop)

    with pytest.raises(PayloadError, match=r"'send'.*not JSON-serialisable"):
        await queue.enqueue("send", {"when": object()})
    assert await _count(queue) == 0


async def test_bytes_are_taken_as_json_text(queue: JobQueue) -> None:
    queue.handle("send", _noop)

    job = await queue.get_job(await queue.enqueue("send", b'{"a": 1}'))
    with pytest.raises(PayloadError, match="not valid JSON"):
        await queue.enqueue("send", b"{nope")

    assert job.payload == '{"a": 1}'


async def test_a_naive_run_at_is_refused(queue: JobQueue) -> None:
    queue.handle("send", _noop)

    with pytest.raises(JobLimitError, match="timezone-aware"):
        await queue.enqueue_at("send", None, datetime(2026, 1, 1, 12, 0))
    assert await _count(queue) == 0


async def test_enqueue_at_stores_run_at_in_utc(queue: JobQueue) -> None:
    queue.handle("send", _noop)
    berlin = datetime(2026, 3, 1, 13, 0, tzinfo=UTC).astimezone()

    job = await queue.get_job(await queue.enqueue_at("send", None, berlin))

    assert job.run_at == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


async def test_an_empty_batch_returns_no_ids(queue: JobQueue) -> None:
    queue.handle("send", _noop)

    assert await queue.enqueue_batch("send", []) == []


async def test_an_empty_batch_of_an_unknown_type_is_refused(queue: JobQueue) -> None:
    with pytest.raises(UnknownJobType):
        await queue.enqueue_batch("send", [])


async def test_a_batch_returns_ids_in_input_order(queue: JobQueue) -> None:
    queue.handle("send", _noop)

    ids = await queue.enqueue_batch("send", ["a", "b", "c"])

    payloads = [(await queue.get_job(job_id)).payload for job_id in ids]
    assert payloads == ['"a"', '"b"', '"c"']


async def test_a_batch_with_one_bad_payload_names_its_index_and_writes_nothing(
    queue: JobQueue,
) -> None:
    queue.handle("send", _noop)

    with pytest.raises(PayloadError, match="batch payload 2 of 3"):
        await queue.enqueue_batch("send", ["a", "b", {1, 2}])
    assert await _count(queue) == 0


async def test_a_batch_at_shares_one_run_at(queue: JobQueue, clock: FakeClock) -> None:
    queue.handle("send", _noop)
    when = clock.now() + timedelta(hours=2)

    ids = await queue.enqueue_batch_at("send", [1, 2], when)

    assert {(await queue.get_job(job_id)).run_at for job_id in ids} == {when}


async def test_a_batch_at_with_a_naive_run_at_is_refused(queue: JobQueue) -> None:
    queue.handle("send", _noop)

    with pytest.raises(JobLimitError, match="timezone-aware"):
        await queue.enqueue_batch_at("send", [1], datetime(2026, 1, 1))


async def test_get_job_of_an_unknown_id_raises_job_not_found(queue: JobQueue) -> None:
    from burrow_tasks import JobNotFound

    with pytest.raises(JobNotFound):
        await queue.get_job("404")


async def test_using_is_passed_to_the_store(queue: JobQueue) -> None:
    from burrow_tasks import NotSupported

    queue.handle("send", _noop)

    # The memory store has no transactional enqueue: it refuses a connection it cannot use.
    with pytest.raises(NotSupported):
        await queue.enqueue("send", None, using=object())
    assert await _count(queue) == 0
