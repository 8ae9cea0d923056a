"""Insert and rule 5: rows start pending as given; a batch is all or nothing."""

from __future__ import annotations

import pytest

from burrow_conformance._assertions import Rule, check, check_fields, violation
from burrow_conformance._harness import Session, store_test
from burrow_tasks.errors import PayloadError
from burrow_tasks.types import JobStatus

__all__ = ["BatchTests", "InsertTests"]


class InsertTests:
    """``jobs_insert`` of single rows."""

    @store_test
    async def test_insert_starts_a_pending_job_with_the_given_fields(self, s: Session) -> None:
        job_id = await s.insert(
            "report", payload='{"x": 1}', priority=-7, max_retries=9, run_at=s.at(45)
        )
        check_fields(
            Rule.INSERT,
            "jobs_insert",
            await s.get(job_id),
            id=job_id,
            type="report",
            payload='{"x": 1}',
            status=JobStatus.PENDING,
            priority=-7,
            attempts=0,
            max_retries=9,
            run_at=s.at(45),
            created_at=s.now,
            updated_at=s.now,
            last_attempted_at=None,
            heartbeat_at=None,
            completed_at=None,
            failed_at=None,
            last_error=None,
            error_class=None,
            error_traceback=None,
            result=None,
            cancelled=False,
            lease=None,
        )

    @store_test
    async def test_insert_hands_out_distinct_ids(self, s: Session) -> None:
        ids = [await s.insert() for _ in range(10)]
        check(Rule.INSERT, "jobs_insert, ten times", expected=10, got=len(set(ids)))

    @store_test
    async def test_insert_of_nothing_returns_no_ids(self, s: Session) -> None:
        got = await s.store.jobs_insert([], now=s.now)
        check(Rule.INSERT, "jobs_insert([])", expected=[], got=got)
        check(Rule.INSERT, "jobs_insert([])", expected={}, got=await s.statuses())

    @store_test
    async def test_insert_refuses_a_payload_that_is_not_json(self, s: Session) -> None:
        with pytest.raises(PayloadError):
            await s.store.jobs_insert([s.new_job(payload="{not json")], now=s.now)
        check(Rule.BATCH, "a refused jobs_insert", expected={}, got=await s.statuses())

    @store_test
    async def test_insert_refuses_nan_and_infinity_which_json_lacks(self, s: Session) -> None:
        for payload in ('{"x": NaN}', "Infinity", "[-Infinity]"):
            with pytest.raises(PayloadError):
                await s.store.jobs_insert([s.new_job(payload=payload)], now=s.now)
        check(Rule.BATCH, "refused jobs_insert calls", expected={}, got=await s.statuses())

    @store_test
    async def test_insert_refuses_a_payload_utf8_cannot_encode(self, s: Session) -> None:
        lone_surrogate = '{"x": "\ud800"}'  # Python's json reads it; UTF-8 cannot encode it
        with pytest.raises(PayloadError):
            await s.store.jobs_insert([s.new_job(payload=lone_surrogate)], now=s.now)
        check(Rule.BATCH, "a refused jobs_insert", expected={}, got=await s.statuses())

    @store_test
    async def test_insert_accepts_extreme_priorities(self, s: Session) -> None:
        low = await s.insert(priority=-(2**31))
        high = await s.insert(priority=2**31 - 1)
        check(
            Rule.CLAIM_ORDER,
            "jobs_claim with int32 extremes",
            expected=[high, low],
            got=await s.claim_ids(),
        )


class BatchTests:
    """Rule 5: ``jobs_insert`` of many rows is one transaction."""

    @store_test
    async def test_batch_returns_ids_in_input_order(self, s: Session) -> None:
        rows = [s.new_job(payload=f'{{"n": {n}}}') for n in range(4)]
        ids = await s.store.jobs_insert(rows, now=s.now)
        payloads = [(await s.get(job_id)).payload for job_id in ids]
        check(Rule.BATCH, "jobs_insert(4 rows)", expected=[r.payload for r in rows], got=payloads)

    @store_test
    async def test_batch_is_all_or_nothing(self, s: Session) -> None:
        rows = [
            s.new_job(payload='{"n": 1}'),
            s.new_job(payload='{"n": 2}'),
            s.new_job(payload="nope"),
        ]
        try:
            await s.store.jobs_insert(rows, now=s.now)
        except PayloadError:
            pass
        else:
            violation(Rule.BATCH, "jobs_insert with an invalid third row", "expected PayloadError")
        check(
            Rule.BATCH,
            "jobs_insert whose third row is refused (the rows before it must not be kept)",
            expected={},
            got=await s.statuses(),
        )
        listed, total = await s.store.jobs_list()
        check(Rule.BATCH, "jobs_list after a refused batch", expected=([], 0), got=(listed, total))

    @store_test
    async def test_refused_batch_does_not_hide_earlier_jobs(self, s: Session) -> None:
        kept = await s.insert()
        with pytest.raises(PayloadError):
            await s.store.jobs_insert([s.new_job(), s.new_job(payload="")], now=s.now)
        check(
            Rule.BATCH, "jobs_claim after a refused batch", expected=[kept], got=await s.claim_ids()
        )

    @store_test
    async def test_batch_rows_keep_their_own_fields(self, s: Session) -> None:
        rows = [
            s.new_job("email", priority=1, max_retries=2, run_at=s.at(10)),
            s.new_job("report", priority=2, max_retries=4, run_at=s.at(10)),
        ]
        ids = await s.store.jobs_insert(rows, now=s.now)
        for job_id, row in zip(ids, rows, strict=True):
            check_fields(
                Rule.BATCH,
                "jobs_insert(batch)",
                await s.get(job_id),
                type=row.type,
                priority=row.priority,
                max_retries=row.max_retries,
                run_at=row.run_at,
                created_at=s.now,
                status=JobStatus.PENDING,
            )
