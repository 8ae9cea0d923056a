"""Rule 8: retry, cancel and delete check the status in the same write."""

from __future__ import annotations

import pytest

from burrow_conformance._assertions import Rule, check, check_fields
from burrow_conformance._harness import Session, store_test
from burrow_tasks.errors import InvalidJobStatus, JobNotFound
from burrow_tasks.types import JobStatus

__all__ = ["OperatorTests"]

MISSING_ID = "no-such-job-0000"


class OperatorTests:
    """``job_retry``, ``job_cancel`` and ``job_delete``."""

    # --- retry ---------------------------------------------------------------------------

    @store_test
    async def test_retry_of_a_dead_job_makes_it_pending_as_if_new(self, s: Session) -> None:
        job_id = await s.dead(run_at=s.at(-100))
        await s.store.job_retry(job_id, now=s.at(50))
        check_fields(
            Rule.OPERATOR,
            "job_retry of a dead job",
            await s.get(job_id),
            status=JobStatus.PENDING,
            attempts=0,
            run_at=s.at(50),
            updated_at=s.at(50),
            cancelled=False,
            last_error=None,
            error_class=None,
            error_traceback=None,
            result=None,
            failed_at=None,
            completed_at=None,
            last_attempted_at=None,
            heartbeat_at=None,
            lease=None,
            created_at=s.now,
        )

    @store_test
    async def test_retry_of_a_failed_job_runs_it_now(self, s: Session) -> None:
        job_id = await s.failed(retry_in=3600)
        await s.store.job_retry(job_id, now=s.at(5))
        check_fields(
            Rule.OPERATOR,
            "job_retry of a failed job",
            await s.get(job_id),
            status=JobStatus.PENDING,
            run_at=s.at(5),
            attempts=0,
            last_error=None,
        )
        check(
            Rule.OPERATOR,
            "jobs_claim after job_retry",
            expected=[job_id],
            got=await s.claim_ids(now=s.at(5)),
        )

    @store_test
    async def test_retry_of_a_cancelled_job_clears_cancelled(self, s: Session) -> None:
        job_id = await s.insert()
        await s.store.job_cancel(job_id, now=s.now)
        await s.store.job_retry(job_id, now=s.at(1))
        check_fields(
            Rule.OPERATOR,
            "job_retry of a cancelled job",
            await s.get(job_id),
            status=JobStatus.PENDING,
            cancelled=False,
            failed_at=None,
        )

    @store_test
    async def test_retry_refuses_pending_running_and_completed_jobs(self, s: Session) -> None:
        jobs = {
            JobStatus.RUNNING: (await s.running()).id,
            JobStatus.COMPLETED: await s.completed(),
            JobStatus.PENDING: await s.insert(),
        }
        for status, job_id in jobs.items():
            before = await s.get(job_id)
            with pytest.raises(InvalidJobStatus):
                await s.store.job_retry(job_id, now=s.at(1))
            check(
                Rule.OPERATOR,
                f"job_retry of a {status.value} job (refused)",
                expected=before,
                got=await s.get(job_id),
            )

    @store_test
    async def test_retry_of_an_unknown_job_raises_job_not_found(self, s: Session) -> None:
        with pytest.raises(JobNotFound):
            await s.store.job_retry(MISSING_ID, now=s.now)

    # --- cancel ----------------------------------------------------------------------------

    @store_test
    async def test_cancel_of_a_pending_job_makes_it_dead_and_cancelled(self, s: Session) -> None:
        job_id = await s.insert(run_at=s.at(60))
        await s.store.job_cancel(job_id, now=s.at(2))
        check_fields(
            Rule.OPERATOR,
            "job_cancel of a pending job",
            await s.get(job_id),
            status=JobStatus.DEAD,
            cancelled=True,
            failed_at=s.at(2),
            updated_at=s.at(2),
            run_at=s.at(60),
            attempts=0,
            lease=None,
        )
        check(
            Rule.OPERATOR,
            "jobs_claim after job_cancel",
            expected=[],
            got=await s.claim_ids(now=s.at(60)),
        )

    @store_test
    async def test_cancel_of_a_running_job_clears_the_lease(self, s: Session) -> None:
        claimed = await s.running()
        await s.store.job_cancel(claimed.id, now=s.at(2))
        check_fields(
            Rule.OPERATOR,
            "job_cancel of a running job",
            await s.get(claimed.id),
            status=JobStatus.DEAD,
            cancelled=True,
            failed_at=s.at(2),
            lease=None,
            attempts=1,
        )

    @store_test
    async def test_cancel_of_a_failed_job_keeps_its_error(self, s: Session) -> None:
        job_id = await s.failed()
        await s.store.job_cancel(job_id, now=s.at(2))
        check_fields(
            Rule.OPERATOR,
            "job_cancel of a failed job",
            await s.get(job_id),
            status=JobStatus.DEAD,
            cancelled=True,
            last_error="boom",
        )

    @store_test
    async def test_cancel_refuses_completed_and_dead_jobs(self, s: Session) -> None:
        for label, job_id in (("completed", await s.completed()), ("dead", await s.dead())):
            before = await s.get(job_id)
            with pytest.raises(InvalidJobStatus):
                await s.store.job_cancel(job_id, now=s.at(1))
            check(
                Rule.OPERATOR,
                f"job_cancel of a {label} job (refused)",
                expected=before,
                got=await s.get(job_id),
            )

    @store_test
    async def test_cancel_of_an_unknown_job_raises_job_not_found(self, s: Session) -> None:
        with pytest.raises(JobNotFound):
            await s.store.job_cancel(MISSING_ID, now=s.now)

    # --- delete --------------------------------------------------------------------------

    @store_test
    async def test_delete_removes_a_job_of_any_status(self, s: Session) -> None:
        ids = [(await s.running()).id, await s.failed(), await s.dead(), await s.completed()]
        ids.append(await s.insert())
        for job_id in ids:
            await s.store.job_delete(job_id)
            check(
                Rule.OPERATOR,
                f"job_get({job_id!r}) after job_delete",
                expected=None,
                got=await s.store.job_get(job_id),
            )
        check(
            Rule.OPERATOR,
            "jobs_count_by_status after deleting all",
            expected={},
            got=await s.statuses(),
        )

    @store_test
    async def test_delete_of_an_unknown_job_raises_job_not_found(self, s: Session) -> None:
        with pytest.raises(JobNotFound):
            await s.store.job_delete(MISSING_ID)

    @store_test
    async def test_delete_twice_raises_job_not_found(self, s: Session) -> None:
        job_id = await s.insert()
        await s.store.job_delete(job_id)
        with pytest.raises(JobNotFound):
            await s.store.job_delete(job_id)
