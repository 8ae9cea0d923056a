"""The one required fixture: every ``burrow_store()`` call gives a new, empty store."""

from __future__ import annotations

from burrow_conformance._assertions import Rule, check
from burrow_conformance._harness import Session, store_test
from burrow_tasks.jobs import WorkerInfo, WorkerState
from burrow_tasks.store import JobStore

__all__ = ["IsolationTests"]


async def _contents(store: JobStore, s: Session) -> tuple[object, ...]:
    counts = await store.jobs_count_by_status()
    return (
        {status.value: n for status, n in counts.items() if n},
        await store.jobs_list(),
        await store.jobs_types(),
        await store.workers_list(seen_since=s.at(-(10**6))),
    )


EMPTY: tuple[object, ...] = ({}, ([], 0), [], [])


class IsolationTests:
    """Isolation between tests and between factory calls (LangChain's "store still empty")."""

    @store_test
    async def test_new_store_is_empty(self, s: Session) -> None:
        check(
            Rule.ISOLATION,
            "a fresh store from burrow_store()",
            expected=EMPTY,
            got=await _contents(s.store, s),
        )

    @store_test
    async def test_each_factory_call_gives_an_empty_store(self, s: Session) -> None:
        await s.insert()
        await s.store.worker_beat(
            WorkerInfo("w", "h", 1, WorkerState.RUNNING, 1, 0, s.at(1) - s.at(0), ("email",)),
            now=s.now,
        )
        second = await s.open_store()
        check(
            Rule.ISOLATION,
            "a second burrow_store() call within one test",
            expected=EMPTY,
            got=await _contents(second, s),
        )

    @store_test
    async def test_close_is_idempotent(self, s: Session) -> None:
        store = await s.open_store()
        await store.close()
        await store.close()
