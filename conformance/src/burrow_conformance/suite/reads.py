"""The reads the admin and operators use: job_get, jobs_list, counts, types, throughput."""

from __future__ import annotations

from typing import Any

import pytest

from burrow_conformance._assertions import Rule, check
from burrow_conformance._harness import Session, store_test
from burrow_tasks.errors import JobNotFound
from burrow_tasks.jobs import FinishedMinute
from burrow_tasks.types import JobId, JobStatus

__all__ = ["ReadTests"]


class ReadTests:
    """Reads through the interface alone."""

    @store_test
    async def test_job_get_of_an_unknown_id_returns_none(self, s: Session) -> None:
        # 5,000 digits: more than Python's int() converts from a string by default
        for job_id in ("no-such-job", "9" * 5000):
            await _check_names_no_job(s, job_id)

    @store_test
    async def test_job_get_takes_an_id_only_as_it_was_handed_out(self, s: Session) -> None:
        job_id = await s.insert()
        # Ids are opaque strings: another spelling of the same number is no id of this store.
        for spelling in (f"0{job_id}", f" {job_id}", f"{job_id} ", f"+{job_id}"):
            await _check_names_no_job(s, spelling, f" where {job_id!r} was handed out")

    # --- jobs_list ----------------------------------------------------------------------------

    @store_test
    async def test_jobs_list_is_newest_first(self, s: Session) -> None:
        oldest = await s.insert(now=s.at(0))
        newest = await s.insert(now=s.at(20))
        middle = await s.insert(now=s.at(10))
        jobs, total = await s.store.jobs_list()
        check(
            Rule.READS,
            "jobs_list() order",
            expected=([newest, middle, oldest], 3),
            got=([j.id for j in jobs], total),
        )

    @store_test
    async def test_jobs_list_breaks_created_at_ties_by_enqueue_order_descending(
        self, s: Session
    ) -> None:
        ids = await s.store.jobs_insert([s.new_job() for _ in range(4)], now=s.now)
        jobs, _ = await s.store.jobs_list()
        check(Rule.READS, "jobs_list() of one batch", expected=ids[::-1], got=[j.id for j in jobs])

    @store_test
    async def test_jobs_list_pages_with_offset_and_limit_and_counts_all(self, s: Session) -> None:
        ids = [await s.insert(now=s.at(n)) for n in range(7)]
        newest_first = ids[::-1]
        jobs, total = await s.store.jobs_list(offset=2, limit=3)
        check(
            Rule.READS,
            "jobs_list(offset=2, limit=3)",
            expected=(newest_first[2:5], 7),
            got=([j.id for j in jobs], total),
        )
        jobs, total = await s.store.jobs_list(offset=6, limit=3)
        check(
            Rule.READS,
            "jobs_list(offset=6, limit=3)",
            expected=(newest_first[6:], 7),
            got=([j.id for j in jobs], total),
        )
        jobs, total = await s.store.jobs_list(offset=10, limit=3)
        check(
            Rule.READS,
            "jobs_list(offset past the end)",
            expected=([], 7),
            got=([j.id for j in jobs], total),
        )

    @store_test
    async def test_jobs_list_filters_by_status_and_type(self, s: Session) -> None:
        email_dead = await s.dead()
        email_pending = await s.insert("email")
        report_pending = await s.insert("report")
        cases: list[tuple[dict[str, Any], list[JobId]]] = [
            ({"status": JobStatus.PENDING}, [report_pending, email_pending]),
            ({"type": "email"}, [email_pending, email_dead]),
            ({"status": JobStatus.DEAD, "type": "email"}, [email_dead]),
            ({"status": JobStatus.COMPLETED}, []),
            ({"type": "thumbnail"}, []),
        ]
        for filters, expected in cases:
            jobs, total = await s.store.jobs_list(**filters)
            check(
                Rule.READS,
                f"jobs_list({', '.join(f'{k}={v!r}' for k, v in filters.items())})",
                expected=(expected, len(expected)),
                got=([j.id for j in jobs], total),
            )

    @store_test
    async def test_jobs_list_total_ignores_paging_but_not_filters(self, s: Session) -> None:
        for _ in range(5):
            await s.insert("email")
        await s.insert("report")
        jobs, total = await s.store.jobs_list(type="email", limit=2)
        check(
            Rule.READS, "jobs_list(type='email', limit=2)", expected=(2, 5), got=(len(jobs), total)
        )

    @store_test
    async def test_jobs_list_returns_the_same_records_as_job_get(self, s: Session) -> None:
        ids = [await s.failed(), await s.completed(), await s.insert()]
        jobs, _ = await s.store.jobs_list()
        by_id = {job.id: job for job in jobs}
        for job_id in ids:
            check(
                Rule.READS,
                f"jobs_list vs job_get({job_id!r})",
                expected=await s.get(job_id),
                got=by_id.get(job_id),
            )

    # --- counts -------------------------------------------------------------------------

    @store_test
    async def test_count_by_status_has_every_status_zero_included(self, s: Session) -> None:
        await s.insert()
        counts = await s.store.jobs_count_by_status()
        check(
            Rule.READS,
            "jobs_count_by_status()",
            expected={status: (1 if status is JobStatus.PENDING else 0) for status in JobStatus},
            got=counts,
        )

    @store_test
    async def test_count_by_status_counts_each_status(self, s: Session) -> None:
        await s.running()
        await s.failed()
        await s.dead()
        await s.completed()
        await s.insert()
        await s.insert()
        check(
            Rule.READS,
            "jobs_count_by_status()",
            expected={"pending": 2, "running": 1, "failed": 1, "dead": 1, "completed": 1},
            got=await s.statuses(),
        )

    @store_test
    async def test_count_ahead_counts_claimable_jobs_before_this_one(self, s: Session) -> None:
        await s.insert(priority=5)  # ahead: higher priority
        await s.insert(priority=0, run_at=s.at(-10))  # ahead: earlier run_at
        target = await s.insert(priority=0)
        await s.insert(priority=0)  # behind: later in enqueue order
        await s.insert(priority=9, run_at=s.at(60))  # not claimable yet
        await s.running(priority=9)  # not claimable: running
        got = await s.store.jobs_count_ahead(target, now=s.now)
        check(Rule.READS, "jobs_count_ahead(target)", expected=2, got=got)

    @store_test
    async def test_count_ahead_counts_only_the_given_types(self, s: Session) -> None:
        await s.insert("report", priority=5)
        await s.insert("email", priority=5)
        target = await s.insert("email")
        got = await s.store.jobs_count_ahead(target, now=s.now, types=["email"])
        check(Rule.READS, "jobs_count_ahead(target, types=['email'])", expected=1, got=got)
        got = await s.store.jobs_count_ahead(target, now=s.now)
        check(Rule.READS, "jobs_count_ahead(target, types=None)", expected=2, got=got)

    @store_test
    async def test_count_ahead_of_an_unknown_job_raises_job_not_found(self, s: Session) -> None:
        with pytest.raises(JobNotFound):
            await s.store.jobs_count_ahead("no-such-job", now=s.now)

    # --- types and throughput -------------------------------------------------------------

    @store_test
    async def test_jobs_types_are_distinct_and_sorted(self, s: Session) -> None:
        for type_name in ("thumbnail", "email", "report", "email"):
            await s.insert(type_name)
        check(
            Rule.READS,
            "jobs_types()",
            expected=["email", "report", "thumbnail"],
            got=await s.store.jobs_types(),
        )

    @store_test
    async def test_finished_per_minute_counts_completed_and_dead_by_minute(
        self, s: Session
    ) -> None:
        minute = s.now.replace(second=0, microsecond=0)
        s.now = minute.replace(second=5)
        await s.completed()
        await s.completed()
        s.now = minute.replace(second=50)
        await s.dead()
        s.now = minute.replace(minute=minute.minute + 2, second=1)
        await s.completed()
        await s.failed()  # not finished
        await s.running()  # not finished
        got = await s.store.jobs_finished_per_minute(since=minute, now=s.now.replace(second=30))
        check(
            Rule.READS,
            "jobs_finished_per_minute()",
            expected=[
                FinishedMinute(minute=minute, completed=2, dead=1),
                FinishedMinute(
                    minute=minute.replace(minute=minute.minute + 2), completed=1, dead=0
                ),
            ],
            got=got,
        )

    @store_test
    async def test_finished_per_minute_leaves_out_jobs_finished_before_since(
        self, s: Session
    ) -> None:
        await s.completed()
        got = await s.store.jobs_finished_per_minute(since=s.at(3600), now=s.at(7200))
        check(
            Rule.READS, "jobs_finished_per_minute(since after every finish)", expected=[], got=got
        )


async def _check_names_no_job(s: Session, job_id: str, context: str = "") -> None:
    """``job_get(job_id)`` is None (the id shown cut to 12 characters)."""
    __tracebackhide__ = True
    shown = f"{job_id[:12]!r}{'...' if len(job_id) > 12 else ''}"
    check(
        Rule.READS, f"job_get({shown}){context}", expected=None, got=await s.store.job_get(job_id)
    )
