"""Rule 6, rescue: running jobs whose heartbeats stopped go back to pending, or dead."""

from __future__ import annotations

from burrow_conformance._assertions import Rule, check, check_fields
from burrow_conformance._harness import Session, store_test
from burrow_tasks.store import LEASE_EXPIRED_ERROR_CLASS, lease_expired_message
from burrow_tasks.types import JobStatus

__all__ = ["RescueTests"]


class RescueTests:
    """``jobs_rescue(stale_before=..., now=...)``."""

    @store_test
    async def test_rescue_sends_a_stale_job_back_to_pending(self, s: Session) -> None:
        claimed = await s.running(run_at=s.at(-30))
        rescued = await s.store.jobs_rescue(stale_before=s.at(1), now=s.at(600))
        check(Rule.RESCUE, "jobs_rescue(stale_before=T0+1s)", expected=[claimed.id], got=rescued)
        check_fields(
            Rule.RESCUE,
            "jobs_rescue (attempts left)",
            await s.get(claimed.id),
            status=JobStatus.PENDING,
            run_at=s.at(600),
            updated_at=s.at(600),
            lease=None,
            attempts=1,
            failed_at=None,
            last_error=None,
        )

    @store_test
    async def test_rescue_sends_last_attempt_to_dead(self, s: Session) -> None:
        claimed = await s.running(max_retries=1)
        cutoff = s.at(1)
        rescued = await s.store.jobs_rescue(stale_before=cutoff, now=s.at(600))
        check(Rule.RESCUE, "jobs_rescue", expected=[claimed.id], got=rescued)
        check_fields(
            Rule.RESCUE,
            "jobs_rescue (last attempt)",
            await s.get(claimed.id),
            status=JobStatus.DEAD,
            failed_at=s.at(600),
            updated_at=s.at(600),
            last_error=lease_expired_message(cutoff),
            error_class=LEASE_EXPIRED_ERROR_CLASS,
            error_traceback=None,
            lease=None,
            attempts=1,
        )

    @store_test
    async def test_rescue_to_dead_replaces_the_error_of_an_earlier_attempt(
        self, s: Session
    ) -> None:
        job_id = await s.failed(retry_in=0, max_retries=2)
        await s.claim_job(job_id)
        cutoff = s.at(1)
        await s.store.jobs_rescue(stale_before=cutoff, now=s.at(600))
        check_fields(
            Rule.RESCUE,
            "jobs_rescue of a last attempt after a failed one",
            await s.get(job_id),
            status=JobStatus.DEAD,
            last_error=lease_expired_message(cutoff),
            error_class=LEASE_EXPIRED_ERROR_CLASS,
            error_traceback=None,
            attempts=2,
        )

    @store_test
    async def test_rescue_leaves_a_job_heartbeated_after_the_cutoff(self, s: Session) -> None:
        claimed = await s.running()
        await s.store.job_heartbeat(claimed.id, claimed.lease, now=s.at(300))
        rescued = await s.store.jobs_rescue(stale_before=s.at(200), now=s.at(600))
        check(
            Rule.RESCUE, "jobs_rescue(stale_before before the heartbeat)", expected=[], got=rescued
        )
        check_fields(
            Rule.RESCUE,
            "jobs_rescue",
            await s.get(claimed.id),
            status=JobStatus.RUNNING,
            lease=claimed.lease,
            heartbeat_at=s.at(300),
        )

    @store_test
    async def test_rescue_cutoff_is_exclusive(self, s: Session) -> None:
        claimed = await s.running()
        rescued = await s.store.jobs_rescue(stale_before=s.now, now=s.at(600))
        check(Rule.RESCUE, "jobs_rescue(stale_before == heartbeat_at)", expected=[], got=rescued)
        check_fields(Rule.RESCUE, "jobs_rescue", await s.get(claimed.id), status=JobStatus.RUNNING)

    @store_test
    async def test_rescue_leaves_jobs_that_are_not_running(self, s: Session) -> None:
        failed = await s.failed()
        dead = await s.dead()
        completed = await s.completed()
        pending = await s.insert()
        before = {job_id: await s.get(job_id) for job_id in (pending, failed, dead, completed)}
        rescued = await s.store.jobs_rescue(stale_before=s.at(3600), now=s.at(3600))
        check(Rule.RESCUE, "jobs_rescue with no running job", expected=[], got=rescued)
        after = {job_id: await s.get(job_id) for job_id in before}
        check(Rule.RESCUE, "jobs_rescue", expected=before, got=after)

    @store_test
    async def test_rescue_returns_every_stale_job(self, s: Session) -> None:
        stale = [(await s.running()).id for _ in range(3)]
        fresh = await s.running()
        await s.store.job_heartbeat(fresh.id, fresh.lease, now=s.at(100))
        rescued = await s.store.jobs_rescue(stale_before=s.at(50), now=s.at(100))
        check(Rule.RESCUE, "jobs_rescue", expected=sorted(stale), got=sorted(rescued))

    @store_test
    async def test_rescued_job_refuses_its_old_lease(self, s: Session) -> None:
        claimed = await s.running()
        await s.store.jobs_rescue(stale_before=s.at(1), now=s.at(1))
        ok = await s.store.job_complete(claimed.id, claimed.lease, result=None, now=s.at(2))
        check(Rule.LEASE_GUARD, "job_complete after jobs_rescue", expected=False, got=ok)
        check_fields(
            Rule.LEASE_GUARD,
            "job_complete after rescue",
            await s.get(claimed.id),
            status=JobStatus.PENDING,
        )
