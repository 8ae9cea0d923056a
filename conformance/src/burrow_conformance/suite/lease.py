"""Rules 2 and 3: leases are fresh, and only the current lease may write."""

from __future__ import annotations

from burrow_conformance._assertions import Rule, check, check_fields
from burrow_conformance._harness import ERROR, Session, store_test
from burrow_tasks.types import JobStatus

__all__ = ["LeaseTests"]


class LeaseTests:
    """Lease freshness (rule 2), the lease guard, heartbeat and complete (rule 3)."""

    # --- freshness ------------------------------------------------------------------------

    @store_test
    async def test_every_claim_gets_a_distinct_lease(self, s: Session) -> None:
        for _ in range(5):
            await s.insert()
        first = await s.claim(5)
        retried = first[0]
        await s.store.job_fail(retried.id, retried.lease, error=ERROR, retry_at=s.now, now=s.now)
        again = await s.claim_job(retried.id)
        leases = [*(c.lease for c in first), again.lease]
        check(
            Rule.LEASE_FRESH,
            f"jobs_claim (six claims, the last one a re-claim of {retried.id!r})",
            expected=len(leases),
            got=len(set(leases)),
        )

    @store_test
    async def test_late_complete_after_cancel_retry_reclaim_is_refused(self, s: Session) -> None:
        """A lease derived from the attempt number would come back after retry resets it."""
        first = await s.running()
        await s.store.job_cancel(first.id, now=s.now)
        await s.store.job_retry(first.id, now=s.now)
        second = await s.claim_job(first.id)
        check(Rule.CLAIM_EXCLUSIVE, "re-claim after retry", expected=1, got=second.attempts)
        ok = await s.store.job_complete(first.id, first.lease, result=None, now=s.at(1))
        check(
            Rule.LEASE_FRESH,
            "job_complete with the lease of the claim before cancel → retry → re-claim",
            expected=False,
            got=ok,
        )
        check_fields(
            Rule.LEASE_FRESH,
            "job_complete with a stale lease",
            await s.get(first.id),
            status=JobStatus.RUNNING,
            lease=second.lease,
            completed_at=None,
        )

    @store_test
    async def test_late_fail_after_rescue_and_reclaim_is_refused(self, s: Session) -> None:
        first = await s.running()
        await s.store.jobs_rescue(stale_before=s.at(1), now=s.at(1))
        second = await s.claim_job(first.id, now=s.at(1))
        ok = await s.store.job_fail(first.id, first.lease, error=ERROR, retry_at=None, now=s.at(2))
        check(Rule.LEASE_GUARD, "job_fail with the lease before rescue", expected=False, got=ok)
        check_fields(
            Rule.LEASE_GUARD,
            "job_fail with a stale lease",
            await s.get(first.id),
            status=JobStatus.RUNNING,
            lease=second.lease,
            last_error=None,
        )

    # --- the guard --------------------------------------------------------------------------

    @store_test
    async def test_complete_with_a_wrong_lease_is_refused(self, s: Session) -> None:
        claimed = await s.running()
        ok = await s.store.job_complete(claimed.id, "not-" + claimed.lease, result=None, now=s.now)
        check(Rule.LEASE_GUARD, "job_complete with a wrong lease", expected=False, got=ok)
        check_fields(
            Rule.LEASE_GUARD,
            "job_complete with a wrong lease",
            await s.get(claimed.id),
            status=JobStatus.RUNNING,
            lease=claimed.lease,
        )

    @store_test
    async def test_another_jobs_lease_is_refused(self, s: Session) -> None:
        one = await s.running()
        other = await s.running()
        ok = await s.store.job_complete(one.id, other.lease, result=None, now=s.now)
        check(Rule.LEASE_GUARD, "job_complete(job A, lease of job B)", expected=False, got=ok)
        check_fields(
            Rule.LEASE_GUARD,
            "job_complete(A, B's lease)",
            await s.get(one.id),
            status=JobStatus.RUNNING,
        )

    @store_test
    async def test_complete_twice_is_refused_the_second_time(self, s: Session) -> None:
        claimed = await s.running()
        first = await s.store.job_complete(claimed.id, claimed.lease, result="1", now=s.now)
        second = await s.store.job_complete(claimed.id, claimed.lease, result="2", now=s.at(1))
        check(Rule.LEASE_GUARD, "job_complete, twice", expected=(True, False), got=(first, second))
        check_fields(
            Rule.LEASE_GUARD,
            "a second job_complete",
            await s.get(claimed.id),
            result="1",
            completed_at=s.now,
        )

    @store_test
    async def test_guarded_writes_on_an_unknown_job_are_refused(self, s: Session) -> None:
        claimed = await s.running()
        await s.store.job_delete(claimed.id)
        got = (
            await s.store.job_heartbeat(claimed.id, claimed.lease, now=s.now),
            await s.store.job_complete(claimed.id, claimed.lease, result=None, now=s.now),
            await s.store.job_fail(
                claimed.id, claimed.lease, error=ERROR, retry_at=None, now=s.now
            ),
            await s.store.job_release(claimed.id, claimed.lease, now=s.now),
        )
        check(
            Rule.LEASE_GUARD,
            "heartbeat/complete/fail/release of a deleted job (must return False, not raise)",
            expected=(False, False, False, False),
            got=got,
        )

    @store_test
    async def test_guarded_writes_on_an_id_never_handed_out_are_refused(self, s: Session) -> None:
        claimed = await s.running()
        # not an id of this store, whatever its ids look like (nor is another spelling of the
        # held job's): a refusal, not an error
        for job_id in ("no-such-job", "9" * 30, "9" * 5000, f"0{claimed.id}"):
            got = (
                await s.store.job_heartbeat(job_id, claimed.lease, now=s.at(1)),
                await s.store.job_complete(job_id, claimed.lease, result=None, now=s.at(1)),
                await s.store.job_fail(
                    job_id, claimed.lease, error=ERROR, retry_at=None, now=s.at(1)
                ),
                await s.store.job_release(job_id, claimed.lease, now=s.at(1)),
            )
            check(
                Rule.LEASE_GUARD,
                f"heartbeat/complete/fail/release of id {job_id!r} (must return False, not raise)",
                expected=(False, False, False, False),
                got=got,
            )
        check_fields(
            Rule.LEASE_GUARD,
            "writes naming an unknown id with a held job's lease",
            await s.get(claimed.id),
            status=JobStatus.RUNNING,
            lease=claimed.lease,
            heartbeat_at=s.now,
        )

    @store_test
    async def test_guarded_writes_after_cancel_are_refused(self, s: Session) -> None:
        claimed = await s.running()
        await s.store.job_cancel(claimed.id, now=s.now)
        got = (
            await s.store.job_heartbeat(claimed.id, claimed.lease, now=s.at(1)),
            await s.store.job_complete(claimed.id, claimed.lease, result=None, now=s.at(1)),
            await s.store.job_fail(
                claimed.id, claimed.lease, error=ERROR, retry_at=None, now=s.at(1)
            ),
            await s.store.job_release(claimed.id, claimed.lease, now=s.at(1)),
        )
        check(
            Rule.LEASE_GUARD,
            "heartbeat/complete/fail/release after job_cancel",
            expected=(False, False, False, False),
            got=got,
        )
        check_fields(
            Rule.LEASE_GUARD,
            "writes after job_cancel",
            await s.get(claimed.id),
            status=JobStatus.DEAD,
            cancelled=True,
            updated_at=s.now,
            last_error=None,
        )

    # --- heartbeat ----------------------------------------------------------------------------

    @store_test
    async def test_heartbeat_moves_heartbeat_at_and_updated_at(self, s: Session) -> None:
        claimed = await s.running()
        ok = await s.store.job_heartbeat(claimed.id, claimed.lease, now=s.at(30))
        check(Rule.HEARTBEAT, "job_heartbeat with the current lease", expected=True, got=ok)
        check_fields(
            Rule.HEARTBEAT,
            "job_heartbeat",
            await s.get(claimed.id),
            status=JobStatus.RUNNING,
            heartbeat_at=s.at(30),
            updated_at=s.at(30),
            last_attempted_at=s.now,
            lease=claimed.lease,
        )

    @store_test
    async def test_heartbeat_with_a_wrong_lease_writes_nothing(self, s: Session) -> None:
        claimed = await s.running()
        ok = await s.store.job_heartbeat(claimed.id, claimed.lease + "x", now=s.at(30))
        check(Rule.LEASE_GUARD, "job_heartbeat with a wrong lease", expected=False, got=ok)
        check_fields(
            Rule.LEASE_GUARD,
            "job_heartbeat with a wrong lease",
            await s.get(claimed.id),
            heartbeat_at=s.now,
            updated_at=s.now,
        )

    # --- complete ---------------------------------------------------------------------------

    @store_test
    async def test_complete_stores_result_and_clears_the_lease(self, s: Session) -> None:
        claimed = await s.running()
        ok = await s.store.job_complete(claimed.id, claimed.lease, result='{"n": 1}', now=s.at(9))
        check(Rule.COMPLETE, "job_complete with the current lease", expected=True, got=ok)
        check_fields(
            Rule.COMPLETE,
            "job_complete",
            await s.get(claimed.id),
            status=JobStatus.COMPLETED,
            completed_at=s.at(9),
            updated_at=s.at(9),
            result='{"n": 1}',
            lease=None,
            attempts=1,
            failed_at=None,
        )

    @store_test
    async def test_complete_keeps_errors_of_earlier_attempts(self, s: Session) -> None:
        job_id = await s.failed(retry_in=0)
        [claimed] = await s.claim(1)
        await s.store.job_complete(job_id, claimed.lease, result=None, now=s.at(1))
        check_fields(
            Rule.COMPLETE,
            "job_complete after an earlier failed attempt",
            await s.get(job_id),
            status=JobStatus.COMPLETED,
            attempts=2,
            last_error=ERROR.message,
            error_class=ERROR.error_class,
            error_traceback=ERROR.traceback,
            result=None,
        )
