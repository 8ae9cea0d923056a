"""Rule 6, release: shutdown gives a held job back, pending or (on its last attempt) dead."""

from __future__ import annotations

from burrow_conformance._assertions import Rule, check, check_fields
from burrow_conformance._harness import Session, store_test
from burrow_tasks.store import SHUTDOWN_ERROR_CLASS, SHUTDOWN_MESSAGE
from burrow_tasks.types import JobStatus

__all__ = ["ReleaseTests"]


class ReleaseTests:
    """``job_release`` under the lease guard."""

    @store_test
    async def test_release_sends_the_job_back_to_pending(self, s: Session) -> None:
        claimed = await s.running(max_retries=3, run_at=s.at(-60))
        ok = await s.store.job_release(claimed.id, claimed.lease, now=s.at(4))
        check(Rule.RELEASE, "job_release with the current lease", expected=True, got=ok)
        check_fields(
            Rule.RELEASE,
            "job_release (attempts left)",
            await s.get(claimed.id),
            status=JobStatus.PENDING,
            run_at=s.at(4),
            updated_at=s.at(4),
            lease=None,
            attempts=1,
            failed_at=None,
            last_error=None,
        )

    @store_test
    async def test_released_job_can_be_claimed_again(self, s: Session) -> None:
        claimed = await s.running()
        await s.store.job_release(claimed.id, claimed.lease, now=s.at(1))
        again = await s.claim_job(claimed.id, now=s.at(1))
        check(Rule.RELEASE, "jobs_claim after job_release", expected=2, got=again.attempts)

    @store_test
    async def test_release_on_the_last_attempt_sends_the_job_dead(self, s: Session) -> None:
        claimed = await s.running(max_retries=1)
        ok = await s.store.job_release(claimed.id, claimed.lease, now=s.at(4))
        check(Rule.RELEASE, "job_release with the current lease", expected=True, got=ok)
        check_fields(
            Rule.RELEASE,
            "job_release (last attempt)",
            await s.get(claimed.id),
            status=JobStatus.DEAD,
            failed_at=s.at(4),
            updated_at=s.at(4),
            last_error=SHUTDOWN_MESSAGE,
            error_class=SHUTDOWN_ERROR_CLASS,
            error_traceback=None,
            lease=None,
            attempts=1,
        )

    @store_test
    async def test_release_to_dead_replaces_the_error_of_an_earlier_attempt(
        self, s: Session
    ) -> None:
        job_id = await s.failed(retry_in=0, max_retries=2)
        claimed = await s.claim_job(job_id)
        await s.store.job_release(job_id, claimed.lease, now=s.at(4))
        check_fields(
            Rule.RELEASE,
            "job_release of a last attempt after a failed one",
            await s.get(job_id),
            status=JobStatus.DEAD,
            last_error=SHUTDOWN_MESSAGE,
            error_class=SHUTDOWN_ERROR_CLASS,
            error_traceback=None,
            attempts=2,
        )

    @store_test
    async def test_release_with_a_wrong_lease_writes_nothing(self, s: Session) -> None:
        claimed = await s.running()
        ok = await s.store.job_release(claimed.id, "x" + claimed.lease, now=s.at(4))
        check(Rule.LEASE_GUARD, "job_release with a wrong lease", expected=False, got=ok)
        check_fields(
            Rule.LEASE_GUARD,
            "job_release with a wrong lease",
            await s.get(claimed.id),
            status=JobStatus.RUNNING,
            lease=claimed.lease,
        )
