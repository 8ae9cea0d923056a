"""Rule 4: a failed run records the error and either schedules a retry or goes dead."""

from __future__ import annotations

from burrow_conformance._assertions import Rule, check, check_fields
from burrow_conformance._harness import ERROR, Session, store_test
from burrow_tasks.jobs import JobError
from burrow_tasks.types import JobStatus

__all__ = ["FailTests"]


class FailTests:
    """``job_fail`` with and without ``retry_at``."""

    @store_test
    async def test_fail_with_retry_at_schedules_the_retry(self, s: Session) -> None:
        claimed = await s.running()
        ok = await s.store.job_fail(
            claimed.id, claimed.lease, error=ERROR, retry_at=s.at(90), now=s.at(5)
        )
        check(Rule.FAIL, "job_fail(retry_at=T0+90s)", expected=True, got=ok)
        check_fields(
            Rule.FAIL,
            "job_fail(retry_at=T0+90s)",
            await s.get(claimed.id),
            status=JobStatus.FAILED,
            run_at=s.at(90),
            updated_at=s.at(5),
            last_error=ERROR.message,
            error_class=ERROR.error_class,
            error_traceback=ERROR.traceback,
            lease=None,
            failed_at=None,
            attempts=1,
        )

    @store_test
    async def test_fail_without_retry_at_sends_the_job_dead(self, s: Session) -> None:
        claimed = await s.running()
        ok = await s.store.job_fail(
            claimed.id, claimed.lease, error=ERROR, retry_at=None, now=s.at(5)
        )
        check(Rule.FAIL, "job_fail(retry_at=None)", expected=True, got=ok)
        check_fields(
            Rule.FAIL,
            "job_fail(retry_at=None)",
            await s.get(claimed.id),
            status=JobStatus.DEAD,
            failed_at=s.at(5),
            updated_at=s.at(5),
            run_at=s.now,
            last_error=ERROR.message,
            error_class=ERROR.error_class,
            lease=None,
            cancelled=False,
        )

    @store_test
    async def test_fail_records_an_error_without_traceback(self, s: Session) -> None:
        claimed = await s.running()
        error = JobError(message="timed out: ü", error_class="builtins.TimeoutError")
        await s.store.job_fail(claimed.id, claimed.lease, error=error, retry_at=None, now=s.now)
        check_fields(
            Rule.FAIL,
            "job_fail(error without traceback)",
            await s.get(claimed.id),
            last_error="timed out: ü",
            error_class="builtins.TimeoutError",
            error_traceback=None,
        )

    @store_test
    async def test_fail_overwrites_the_previous_error(self, s: Session) -> None:
        job_id = await s.failed(retry_in=0)
        [claimed] = await s.claim(1)
        second = JobError(message="second", error_class="builtins.KeyError")
        await s.store.job_fail(job_id, claimed.lease, error=second, retry_at=s.at(1), now=s.now)
        check_fields(
            Rule.FAIL,
            "job_fail on the second attempt",
            await s.get(job_id),
            last_error="second",
            error_class="builtins.KeyError",
            error_traceback=None,
            attempts=2,
        )

    @store_test
    async def test_fail_with_a_wrong_lease_writes_nothing(self, s: Session) -> None:
        claimed = await s.running()
        ok = await s.store.job_fail(
            claimed.id, claimed.lease + "-old", error=ERROR, retry_at=None, now=s.at(1)
        )
        check(Rule.LEASE_GUARD, "job_fail with a wrong lease", expected=False, got=ok)
        check_fields(
            Rule.LEASE_GUARD,
            "job_fail with a wrong lease",
            await s.get(claimed.id),
            status=JobStatus.RUNNING,
            last_error=None,
            lease=claimed.lease,
            updated_at=s.now,
        )

    @store_test
    async def test_failed_job_is_not_claimed_before_retry_at(self, s: Session) -> None:
        await s.failed(retry_in=120)
        got = await s.claim_ids(now=s.at(119))
        check(Rule.FAIL, "jobs_claim one second before retry_at", expected=[], got=got)
