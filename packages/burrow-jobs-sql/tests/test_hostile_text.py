"""Text a database cannot keep as it is (NUL characters, lone surrogates) on both databases:
refused with a clear error when it is the app's payload, recorded escaped when it is a
handler's error message."""

from __future__ import annotations

import pytest

from burrow_jobs_sql import SQLStore
from burrow_tasks import JobQueue, JobStatus
from burrow_tasks.errors import PayloadError


async def test_a_failure_whose_message_quotes_nul_and_a_lone_surrogate_is_recorded(
    store: SQLStore,
) -> None:
    async def handler(payload: bytes) -> None:
        raise ValueError("refused row: nul \x00, surrogate \ud800")

    queue = JobQueue(store)
    queue.handle("hostile", handler)
    job_id = await queue.enqueue("hostile", None)
    await queue.run_until_idle()

    job = await store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.last_error == "refused row: nul \\x00, surrogate \\ud800"
    assert job.error_traceback is not None
    assert "refused row: nul \\x00, surrogate \\ud800" in job.error_traceback


async def test_a_payload_holding_a_lone_surrogate_is_refused_and_nothing_is_written(
    store: SQLStore,
) -> None:
    queue = JobQueue(store)
    queue.handle("hostile", lambda payload: None)

    with pytest.raises(PayloadError, match="payload of job 0 is not valid JSON text"):
        await queue.enqueue("hostile", {"name": "\ud800"})
    with pytest.raises(PayloadError, match="payload of job 1 is not valid JSON text"):
        await queue.enqueue_batch("hostile", [{"name": "fine"}, {"name": "\udfff"}])

    assert sum((await store.jobs_count_by_status()).values()) == 0


async def test_a_payload_holding_a_nul_character_is_kept_escaped_in_its_json(
    store: SQLStore,
) -> None:
    queue = JobQueue(store)
    queue.handle("hostile", lambda payload: None)

    job_id = await queue.enqueue("hostile", {"name": "a\x00b"})

    job = await store.job_get(job_id)
    assert job is not None
    assert job.payload == '{"name":"a\\u0000b"}'
