"""PostgreSQL inline inserts: a one-job insert waits for the server on the caller's thread
for at most the budget, then on the event loop; one call at a time, never beside the SQL
threads' work, never after a slow streak; a cancelled caller's statement is seen to its end.
PostgreSQL only."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from burrow_jobs_sql import SQLStore
from burrow_jobs_sql import runner as sql_threads
from burrow_jobs_sql.dsn import to_url
from burrow_jobs_sql.inline_pacing import SlowStreak, Turns
from burrow_jobs_sql.inline_writes import Passed
from burrow_jobs_sql.postgres_inline import LaneConnection, PostgresInline, use_lane_connections
from burrow_jobs_sql.runner import Runner
from burrow_tasks.jobs import NewJob

BUDGET = 0.002
SERVER_PAUSE = 0.2
"""Seconds a statement made to outlast the budget takes on the server."""


@pytest.fixture
def name() -> str:
    """The application name of the test's connections, so a test cuts only those."""
    return f"burrow-lane-{secrets.token_hex(4)}"


@pytest.fixture
def dsn(db_kind: str, database_dsn: str, name: str) -> str:
    if db_kind != "postgres":
        pytest.skip("inline inserts are PostgreSQL's (SQLite's are test_inline_writes.py)")
    return f"{database_dsn}{'&' if '?' in database_dsn else '?'}application_name={name}"


@pytest.fixture
def cut_connections(
    dsn: str, name: str, terminate_backends: Callable[[str, str], int]
) -> Callable[[], int]:
    """Cut the test's server connections (as a restart would); how many were cut."""
    return lambda: terminate_backends(dsn, name)


@pytest.fixture
def engine(dsn: str) -> Iterator[Engine]:
    made = sa.create_engine(to_url(dsn))
    use_lane_connections(made)
    with made.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS lane_notes (note text)")
        connection.exec_driver_sql("DELETE FROM lane_notes")
    yield made
    made.dispose()


@pytest.fixture
async def runner(engine: Engine) -> AsyncIterator[Runner]:
    made = Runner(engine, 2, hold_connections=True)
    yield made
    await made.shutdown(thread_timeout=10.0)


@pytest.fixture
async def lane(runner: Runner) -> AsyncIterator[PostgresInline]:
    made = PostgresInline(runner, budget=BUDGET)
    yield made
    await made.close(grace=10.0)


def thread_name(connection: Connection) -> str:
    connection.exec_driver_sql("SELECT 1")
    return threading.current_thread().name


def sleep_on_server(seconds: float) -> Callable[[Connection], str]:
    def work(connection: Connection) -> str:
        connection.exec_driver_sql(f"SELECT pg_sleep({seconds})")
        return threading.current_thread().name

    return work


def note(text: str, *, after: float = 0.0) -> Callable[[Connection], None]:
    """Insert one row into ``lane_notes``, ``after`` seconds into the statement."""

    def work(connection: Connection) -> None:
        connection.exec_driver_sql(
            "INSERT INTO lane_notes SELECT %s FROM pg_sleep(%s)", (text, after)
        )

    return work


def notes(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.exec_driver_sql("SELECT note FROM lane_notes")]


class Ticker:
    """Counts the event loop turns a coroutine gets while it runs, and the longest wait
    between two of them."""

    def __init__(self) -> None:
        self.ticks = 0
        self.longest_gap = 0.0
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.001)
            now = time.monotonic()
            self.longest_gap = max(self.longest_gap, now - last)
            last = now
            self.ticks += 1

    async def stop(self) -> int:
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task
        return self.ticks


async def test_a_call_runs_on_the_calling_thread(lane: PostgresInline) -> None:
    opened = await lane.run(thread_name)
    assert opened is not Passed.PASSED, "the lane's connection did not open (see the log)"

    assert await lane.run(thread_name) == threading.current_thread().name


async def test_the_lane_connection_is_opened_on_another_thread(
    lane: PostgresInline, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened_on: list[str] = []
    open_held = runner.open_held

    def recording_open_held() -> Connection:
        opened_on.append(threading.current_thread().name)
        return open_held()

    monkeypatch.setattr(runner, "open_held", recording_open_held)

    await lane.run(thread_name)

    assert len(opened_on) == 1
    assert opened_on[0] != threading.current_thread().name


async def test_a_call_that_outlasts_the_budget_lets_the_event_loop_run(
    lane: PostgresInline,
) -> None:
    ticker = Ticker()
    ran_on = await lane.run(sleep_on_server(SERVER_PAUSE))
    ticks = await ticker.stop()

    assert ran_on == threading.current_thread().name
    # Held for the whole pause, the loop would have given the ticker no turn at all.
    assert ticks >= 10
    assert ticker.longest_gap < SERVER_PAUSE / 4


async def test_a_call_finds_the_lane_in_use_and_passes_with_nothing_run(
    lane: PostgresInline, engine: Engine
) -> None:
    first = asyncio.create_task(lane.run(note("first", after=SERVER_PAUSE)))
    await asyncio.sleep(0.05)  # the first call now awaits the server

    assert await lane.run(note("second")) is Passed.PASSED
    await first
    assert notes(engine) == ["first"]


async def test_a_call_passes_while_the_sql_threads_are_at_work(
    lane: PostgresInline, runner: Runner
) -> None:
    on_thread = asyncio.create_task(runner(sleep_on_server(SERVER_PAUSE)))
    await asyncio.sleep(0.05)

    assert await lane.run(thread_name) is Passed.PASSED
    await on_thread
    assert await lane.run(thread_name) == threading.current_thread().name


async def test_slow_calls_in_a_row_pause_the_lane(runner: Runner) -> None:
    lane = PostgresInline(
        runner, budget=BUDGET, streak=SlowStreak(streak=2, first_pause=60.0, pause=60.0)
    )
    try:
        for _ in range(2):
            await lane.run(sleep_on_server(0.02))

        assert await lane.run(thread_name) is Passed.PASSED
    finally:
        await lane.close(grace=10.0)


async def test_a_quick_call_breaks_a_slow_streak(runner: Runner) -> None:
    lane = PostgresInline(
        runner, budget=BUDGET, streak=SlowStreak(streak=2, first_pause=60.0, pause=60.0)
    )
    try:
        await lane.run(sleep_on_server(0.02))
        await lane.run(thread_name)
        await lane.run(sleep_on_server(0.02))

        assert await lane.run(thread_name) == threading.current_thread().name
    finally:
        await lane.close(grace=10.0)


async def test_an_error_reaches_the_caller_and_frees_the_lane(lane: PostgresInline) -> None:
    def broken(connection: Connection) -> None:
        connection.exec_driver_sql("SELECT * FROM no_such_table")

    with pytest.raises(sa.exc.ProgrammingError, match="no_such_table"):
        await lane.run(broken)

    assert await lane.run(thread_name) == threading.current_thread().name


async def test_a_cancelled_callers_statement_is_seen_to_its_end_once(
    lane: PostgresInline, engine: Engine
) -> None:
    caller = asyncio.create_task(lane.run(note("cancelled", after=SERVER_PAUSE)))
    await asyncio.sleep(0.05)
    caller.cancel()

    with pytest.raises(asyncio.CancelledError):
        await caller
    assert await lane.run(thread_name) is Passed.PASSED  # still in flight
    await asyncio.sleep(SERVER_PAUSE + 0.2)

    assert notes(engine) == ["cancelled"]
    assert await lane.run(thread_name) == threading.current_thread().name


async def test_close_waits_for_a_cancelled_callers_statement(
    runner: Runner, engine: Engine
) -> None:
    lane = PostgresInline(runner, budget=BUDGET)
    caller = asyncio.create_task(lane.run(note("cancelled", after=SERVER_PAUSE)))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller

    await lane.close(grace=10.0)

    assert notes(engine) == ["cancelled"]
    assert await lane.run(thread_name) is Passed.PASSED


async def test_a_cut_connection_costs_one_call_an_error_and_the_next_opens_another(
    lane: PostgresInline, cut_connections: Callable[[], int]
) -> None:
    here = threading.current_thread().name
    assert await lane.run(thread_name) == here, "the first call did not run on the lane"
    assert cut_connections() >= 1

    try:
        after_cut = await lane.run(thread_name)
    except sa.exc.OperationalError:
        pass
    else:
        # Which it was tells a flake apart: Passed.PASSED (the lane stood aside) or the
        # thread's name (the statement found a live connection).
        pytest.fail(f"the call after the cut raised nothing and returned {after_cut!r}")
    assert await lane.run(thread_name) == here


async def test_a_lane_on_an_engine_without_lane_connections_passes_every_call(
    dsn: str,
) -> None:
    plain = sa.create_engine(to_url(dsn))
    runner = Runner(plain, 1, hold_connections=True)
    lane = PostgresInline(runner, budget=BUDGET)
    try:
        assert await lane.run(thread_name) is Passed.PASSED
        assert await lane.run(thread_name) is Passed.PASSED
    finally:
        await lane.close(grace=10.0)
        await runner.shutdown(thread_timeout=10.0)
        plain.dispose()


async def test_a_lane_connection_outside_the_lane_waits_as_psycopg_does(
    engine: Engine,
) -> None:
    with engine.connect() as connection:
        assert isinstance(connection.connection.driver_connection, LaneConnection)
        assert connection.exec_driver_sql("SELECT 41 + 1").scalar_one() == 42


def one_job() -> NewJob:
    return NewJob(type="t", payload="{}", priority=0, max_retries=0, run_at=datetime.now(UTC))


async def test_a_coroutine_calling_in_a_loop_gives_the_event_loop_turns(runner: Runner) -> None:
    # A budget no call outlasts: every turn the ticker gets is one the lane gave.
    lane = PostgresInline(runner, budget=60.0, turns=Turns(every=0.001))
    try:
        ticker = Ticker()
        # Until the ticker has had five turns, or for two seconds: calls alone never give it
        # one, and a loaded machine may fit few calls into any fixed time.
        deadline = time.monotonic() + 2.0
        while ticker.ticks < 5 and time.monotonic() < deadline:
            await lane.run(thread_name)
        ticks = await ticker.stop()
    finally:
        await lane.close(grace=10.0)

    assert ticks >= 5


async def test_a_connection_unused_for_a_while_is_replaced_not_reused(
    lane: PostgresInline, cut_connections: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_threads, "PING_AFTER_IDLE", 0.2)
    await lane.run(thread_name)
    assert cut_connections() >= 1
    await asyncio.sleep(0.3)  # a restart during a quiet spell

    assert await lane.run(thread_name) == threading.current_thread().name


async def test_a_cut_the_lane_finds_spares_the_sql_threads_an_error(
    lane: PostgresInline, runner: Runner, cut_connections: Callable[[], int]
) -> None:
    await runner(thread_name)  # an SQL thread holding its connection
    await lane.run(thread_name)
    assert cut_connections() >= 2

    with pytest.raises(sa.exc.OperationalError):
        await lane.run(thread_name)
    assert await runner(thread_name) != threading.current_thread().name


async def test_after_a_failed_open_calls_pass_without_trying_again_at_once(
    lane: PostgresInline, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = 0

    def refused() -> Connection:
        nonlocal attempts
        attempts += 1
        raise sa.exc.OperationalError("connect", None, Exception("too many clients"))

    monkeypatch.setattr(runner, "open_held", refused)

    assert await lane.run(thread_name) is Passed.PASSED
    assert await lane.run(thread_name) is Passed.PASSED
    assert attempts == 1


async def test_enqueues_through_the_store_are_each_stored_once(dsn: str, store: SQLStore) -> None:
    assert store._lane is not None
    on_the_lane = 0
    run = store._lane.run

    async def counting_run(work: Callable[[Connection], Any]) -> Any:
        nonlocal on_the_lane
        outcome = await run(work)
        on_the_lane += outcome is not Passed.PASSED
        return outcome

    store._lane.run = counting_run  # type: ignore[method-assign]
    # Concurrent callers: some on the lane, the rest on the SQL threads.
    ids = await asyncio.gather(
        *(store.jobs_insert([one_job()], now=datetime.now(UTC)) for _ in range(300))
    )
    counts = await store.jobs_count_by_status()

    assert len({job_id for batch in ids for job_id in batch}) == 300
    assert sum(counts.values()) == 300
    assert 0 < on_the_lane < 300
