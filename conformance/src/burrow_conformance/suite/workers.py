"""Workers: every process publishes its pool, so the admin can list all of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from burrow_conformance._assertions import Rule, check
from burrow_conformance._harness import T0, Session, store_test
from burrow_tasks.jobs import WorkerInfo, WorkerRecord, WorkerState

__all__ = ["WorkerTests"]

POOL = WorkerInfo(
    id="host-a:101:5f3a",
    hostname="host-a",
    pid=101,
    state=WorkerState.RUNNING,
    workers=4,
    in_flight=1,
    poll_interval=timedelta(seconds=1, microseconds=500),
    types=("email", "report"),
    started_at=T0,
    last_poll_at=T0 + timedelta(microseconds=7),
)


class WorkerTests:
    """``worker_beat`` and ``workers_list``."""

    @store_test
    async def test_worker_beat_is_listed_with_its_info(self, s: Session) -> None:
        await s.store.worker_beat(POOL, now=s.at(1))
        got = await s.store.workers_list(seen_since=s.at(0))
        check(
            Rule.WORKERS,
            "workers_list after worker_beat",
            expected=[WorkerRecord(POOL, s.at(1))],
            got=got,
        )

    @store_test
    async def test_worker_beat_replaces_the_previous_info(self, s: Session) -> None:
        await s.store.worker_beat(POOL, now=s.at(1))
        stopped = replace(POOL, state=WorkerState.STOPPED, in_flight=0)
        await s.store.worker_beat(stopped, now=s.at(2))
        got = await s.store.workers_list(seen_since=s.at(0))
        check(
            Rule.WORKERS,
            "workers_list after two beats",
            expected=[WorkerRecord(stopped, s.at(2))],
            got=got,
        )

    @store_test
    async def test_workers_list_leaves_out_pools_not_seen_since(self, s: Session) -> None:
        old = replace(POOL, id="host-b:1:aaaa", hostname="host-b")
        await s.store.worker_beat(old, now=s.at(0))
        await s.store.worker_beat(POOL, now=s.at(60))
        got = await s.store.workers_list(seen_since=s.at(60))
        check(
            Rule.WORKERS,
            "workers_list(seen_since == the newer beat)",
            expected=[WorkerRecord(POOL, s.at(60))],
            got=got,
        )

    @store_test
    async def test_workers_list_is_ordered_by_id(self, s: Session) -> None:
        ids = ["c-pool", "a-pool", "b-pool"]
        for worker_id in ids:
            await s.store.worker_beat(replace(POOL, id=worker_id), now=s.now)
        got = [record.info.id for record in await s.store.workers_list(seen_since=s.now)]
        check(Rule.WORKERS, "workers_list order", expected=sorted(ids), got=got)

    @store_test
    async def test_worker_info_without_optional_times_round_trips(self, s: Session) -> None:
        fresh = replace(POOL, started_at=None, last_poll_at=None, types=())
        await s.store.worker_beat(fresh, now=s.now)
        got = await s.store.workers_list(seen_since=s.now)
        check(Rule.WORKERS, "workers_list", expected=[WorkerRecord(fresh, s.now)], got=got)
