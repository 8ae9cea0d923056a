"""Capability ``batch_complete``: ``jobs_complete`` writes many completions in one call, each
as ``job_complete`` would (rule 3), with a verdict per completion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from burrow_conformance._assertions import Rule, check, check_fields
from burrow_conformance._harness import Session, store_test
from burrow_conformance.requirements import requires
from burrow_tasks.jobs import Completion
from burrow_tasks.store import CompletesInBatches
from burrow_tasks.types import Capability, JobStatus

__all__ = ["BatchCompleteTests"]


async def _complete(
    s: Session, completions: Sequence[Completion], seconds: float = 0
) -> list[bool]:
    store = cast(CompletesInBatches, s.store)
    return await store.jobs_complete(completions, now=s.at(seconds))


class BatchCompleteTests:
    """``jobs_complete``: the lease guard for each completion on its own."""

    @requires(Capability.BATCH_COMPLETE)
    @store_test
    async def test_jobs_complete_writes_each_completion_as_job_complete_does(
        self, s: Session
    ) -> None:
        one, two = await s.running(), await s.running()
        got = await _complete(
            s, [Completion(one.id, one.lease, '{"n": 1}'), Completion(two.id, two.lease, None)], 1
        )
        check(Rule.COMPLETE, "jobs_complete of two held jobs", expected=[True, True], got=got)
        for job, result in ((one, '{"n": 1}'), (two, None)):
            check_fields(
                Rule.COMPLETE,
                "jobs_complete",
                await s.get(job.id),
                status=JobStatus.COMPLETED,
                completed_at=s.at(1),
                updated_at=s.at(1),
                result=result,
                lease=None,
            )

    @requires(Capability.BATCH_COMPLETE)
    @store_test
    async def test_jobs_complete_refuses_a_wrong_lease_alone(self, s: Session) -> None:
        one, two, three = await s.running(), await s.running(), await s.running()
        got = await _complete(
            s,
            [
                Completion(one.id, one.lease, None),
                Completion(two.id, three.lease, None),
                Completion(three.id, three.lease, None),
            ],
        )
        check(
            Rule.LEASE_GUARD,
            "jobs_complete with job B given job C's lease",
            expected=[True, False, True],
            got=got,
        )
        check_fields(
            Rule.LEASE_GUARD,
            "a refused completion in a batch",
            await s.get(two.id),
            status=JobStatus.RUNNING,
            lease=two.lease,
            completed_at=None,
        )

    @requires(Capability.BATCH_COMPLETE)
    @store_test
    async def test_jobs_complete_refuses_a_second_completion_of_one_job(self, s: Session) -> None:
        claimed = await s.running()
        got = await _complete(
            s,
            [
                Completion(claimed.id, claimed.lease, "1"),
                Completion(claimed.id, claimed.lease, "2"),
            ],
        )
        check(Rule.LEASE_GUARD, "jobs_complete of one job twice", expected=[True, False], got=got)
        check_fields(Rule.LEASE_GUARD, "jobs_complete, twice", await s.get(claimed.id), result="1")

    @requires(Capability.BATCH_COMPLETE)
    @store_test
    async def test_jobs_complete_refuses_deleted_and_unknown_jobs(self, s: Session) -> None:
        deleted = await s.running()
        await s.store.job_delete(deleted.id)
        held = await s.running()
        got = await _complete(
            s,
            [
                Completion(deleted.id, deleted.lease, None),
                Completion("no such id", held.lease, None),
                Completion(held.id, "no such lease", None),
            ],
        )
        check(
            Rule.LEASE_GUARD,
            "jobs_complete of a deleted job, an unknown id, an unknown lease (False, not raise)",
            expected=[False, False, False],
            got=got,
        )

    @requires(Capability.BATCH_COMPLETE)
    @store_test
    async def test_jobs_complete_of_no_completions_returns_no_verdicts(self, s: Session) -> None:
        check(Rule.COMPLETE, "jobs_complete([])", expected=[], got=await _complete(s, []))
