"""Rules 1 and 2: which jobs a claim takes, in which order, and what it writes."""

from __future__ import annotations

from burrow_conformance._assertions import Rule, check, check_fields
from burrow_conformance._harness import Session, store_test
from burrow_tasks.types import JobStatus

__all__ = ["ClaimTests"]


class ClaimTests:
    """Claim order (rule 1) and what a claim writes (rule 2)."""

    @store_test
    async def test_claim_prefers_higher_priority(self, s: Session) -> None:
        low = await s.insert(priority=0)
        high = await s.insert(priority=10)
        negative = await s.insert(priority=-5)
        got = await s.claim_ids(10)
        check(Rule.CLAIM_ORDER, "jobs_claim(10)", expected=[high, low, negative], got=got)

    @store_test
    async def test_fifo_within_priority_by_run_at_then_enqueue_order(self, s: Session) -> None:
        later = await s.insert(run_at=s.at(-10))
        first_of_two = await s.insert(run_at=s.at(-20))
        second_of_two = await s.insert(run_at=s.at(-20))
        got = await s.claim_ids(10)
        check(
            Rule.CLAIM_ORDER,
            "jobs_claim(10) over equal priorities",
            expected=[first_of_two, second_of_two, later],
            got=got,
        )

    @store_test
    async def test_batch_keeps_input_order_for_claims(self, s: Session) -> None:
        ids = await s.store.jobs_insert(
            [s.new_job(payload=f'{{"n": {n}}}') for n in range(5)], now=s.now
        )
        got = await s.claim_ids(10)
        check(Rule.CLAIM_ORDER, "jobs_claim(10) after one batch", expected=ids, got=got)

    @store_test
    async def test_claim_order_is_total_across_separate_claims(self, s: Session) -> None:
        ids = [await s.insert(priority=p % 3) for p in range(9)]
        expected = sorted(ids, key=lambda i: -(ids.index(i) % 3))  # stable: enqueue order kept
        got = [job_id for _ in ids for job_id in await s.claim_ids(1)]
        check(Rule.CLAIM_ORDER, "jobs_claim(1), nine times", expected=expected, got=got)

    @store_test
    async def test_claim_skips_jobs_scheduled_in_the_future(self, s: Session) -> None:
        await s.insert(run_at=s.at(1))
        due = await s.insert(run_at=s.at(0))
        got = await s.claim_ids(10)
        check(Rule.CLAIM_ORDER, "jobs_claim(10) at T0", expected=[due], got=got)

    @store_test
    async def test_claim_takes_a_job_whose_run_at_equals_now(self, s: Session) -> None:
        job_id = await s.insert(run_at=s.at(30))
        got = await s.claim_ids(10, now=s.at(30))
        check(Rule.CLAIM_ORDER, "jobs_claim(now == run_at)", expected=[job_id], got=got)

    @store_test
    async def test_claim_takes_only_the_given_types(self, s: Session) -> None:
        await s.insert("email")
        report = await s.insert("report")
        got = await s.claim_ids(10, types=["report", "unknown"])
        check(
            Rule.CLAIM_ORDER, "jobs_claim(types=['report', 'unknown'])", expected=[report], got=got
        )

    @store_test
    async def test_claim_with_no_types_claims_nothing(self, s: Session) -> None:
        await s.insert("email")
        got = await s.claim_ids(10, types=[])
        check(Rule.CLAIM_ORDER, "jobs_claim(types=[])", expected=[], got=got)

    @store_test
    async def test_claim_respects_the_limit(self, s: Session) -> None:
        ids = [await s.insert() for _ in range(5)]
        got = await s.claim_ids(2)
        check(Rule.CLAIM_ORDER, "jobs_claim(2) over five jobs", expected=ids[:2], got=got)

    @store_test
    async def test_claim_on_an_empty_store_returns_nothing(self, s: Session) -> None:
        check(Rule.CLAIM_ORDER, "jobs_claim(10), no jobs", expected=[], got=await s.claim_ids(10))

    @store_test
    async def test_claim_never_returns_a_running_job(self, s: Session) -> None:
        running = await s.running()
        waiting = await s.insert()
        got = await s.claim_ids(10)
        check(
            Rule.CLAIM_EXCLUSIVE,
            f"jobs_claim(10) while {running.id!r} is running",
            expected=[waiting],
            got=got,
        )

    @store_test
    async def test_claim_skips_completed_and_dead_jobs(self, s: Session) -> None:
        await s.completed()
        await s.dead()
        check(Rule.CLAIM_ORDER, "jobs_claim(10)", expected=[], got=await s.claim_ids(10))

    @store_test
    async def test_claim_takes_a_failed_job_once_its_retry_is_due(self, s: Session) -> None:
        job_id = await s.failed(retry_in=60)
        check(Rule.CLAIM_ORDER, "jobs_claim before retry_at", expected=[], got=await s.claim_ids())
        got = await s.claim_ids(now=s.at(60))
        check(Rule.CLAIM_ORDER, "jobs_claim at retry_at", expected=[job_id], got=got)

    @store_test
    async def test_claim_marks_the_job_running_with_attempt_and_times(self, s: Session) -> None:
        job_id = await s.insert(priority=3, max_retries=5, run_at=s.at(-5))
        claim_time = s.at(7.5)
        [claimed] = await s.claim(1, now=claim_time)
        check_fields(
            Rule.CLAIM_EXCLUSIVE,
            "jobs_claim",
            await s.get(job_id),
            status=JobStatus.RUNNING,
            attempts=1,
            last_attempted_at=claim_time,
            heartbeat_at=claim_time,
            updated_at=claim_time,
            lease=claimed.lease,
            run_at=s.at(-5),
            created_at=s.now,
        )

    @store_test
    async def test_claimed_job_carries_the_stored_fields(self, s: Session) -> None:
        payload = '{"b": 1,  "a": "ü"}'
        job_id = await s.insert("report", payload=payload, priority=4, max_retries=7)
        [claimed] = await s.claim(1)
        got = (
            claimed.id,
            claimed.type,
            claimed.payload,
            claimed.priority,
            claimed.attempts,
            claimed.max_retries,
            claimed.run_at,
            claimed.created_at,
        )
        check(
            Rule.CLAIM_EXCLUSIVE,
            "jobs_claim → ClaimedJob(id, type, payload, priority, attempts, max_retries, "
            "run_at, created_at)",
            expected=(job_id, "report", payload, 4, 1, 7, s.now, s.now),
            got=got,
        )

    @store_test
    async def test_claim_counts_attempts_across_retries(self, s: Session) -> None:
        job_id = await s.failed(retry_in=0)
        [claimed] = await s.claim(1)
        check(
            Rule.CLAIM_EXCLUSIVE,
            "second jobs_claim",
            expected=(job_id, 2),
            got=(claimed.id, claimed.attempts),
        )
