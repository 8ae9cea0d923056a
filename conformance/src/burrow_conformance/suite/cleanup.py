"""Rule 7: cleanup deletes completed jobs finished before the cutoff, and nothing else."""

from __future__ import annotations

from burrow_conformance._assertions import Rule, check
from burrow_conformance._harness import Session, store_test

__all__ = ["CleanupTests"]


class CleanupTests:
    """``jobs_delete_completed(completed_before=...)``."""

    @store_test
    async def test_cleanup_deletes_old_completed_jobs(self, s: Session) -> None:
        old = await s.completed()
        deleted = await s.store.jobs_delete_completed(completed_before=s.at(1))
        check(Rule.CLEANUP, "jobs_delete_completed → count", expected=1, got=deleted)
        check(
            Rule.CLEANUP,
            f"job_get({old!r}) after cleanup",
            expected=None,
            got=await s.store.job_get(old),
        )

    @store_test
    async def test_cleanup_keeps_completed_jobs_at_or_after_the_cutoff(self, s: Session) -> None:
        at_cutoff = await s.completed()
        s.now = s.at(10)
        newer = await s.completed()
        deleted = await s.store.jobs_delete_completed(completed_before=s.at(0))
        check(
            Rule.CLEANUP,
            "jobs_delete_completed(completed_before == completed_at)",
            expected=0,
            got=deleted,
        )
        for job_id in (at_cutoff, newer):
            await s.get(job_id)

    @store_test
    async def test_cleanup_keeps_dead_jobs(self, s: Session) -> None:
        dead = await s.dead()
        cancelled = await s.insert()
        await s.store.job_cancel(cancelled, now=s.now)
        deleted = await s.store.jobs_delete_completed(completed_before=s.at(86400))
        check(Rule.CLEANUP, "jobs_delete_completed with two dead jobs", expected=0, got=deleted)
        check(
            Rule.CLEANUP,
            "jobs_count_by_status after cleanup",
            expected={"dead": 2},
            got=await s.statuses(),
        )
        for job_id in (dead, cancelled):
            await s.get(job_id)

    @store_test
    async def test_cleanup_keeps_pending_running_and_failed_jobs(self, s: Session) -> None:
        await s.running()
        await s.failed()
        await s.insert()
        deleted = await s.store.jobs_delete_completed(completed_before=s.at(86400))
        check(Rule.CLEANUP, "jobs_delete_completed with no completed job", expected=0, got=deleted)
        check(
            Rule.CLEANUP,
            "jobs_count_by_status after cleanup",
            expected={"pending": 1, "running": 1, "failed": 1},
            got=await s.statuses(),
        )
