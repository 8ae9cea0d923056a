"""Inline writes: a short SQLite write runs on the caller's thread only when it can start at
once, never checkpoints there, and backs off from a slow disk; whatever passes goes to the
SQL thread with nothing written. SQLite only, whatever ``--burrow-db`` says."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from burrow_jobs_sql import SQLStore
from burrow_jobs_sql.inline_pacing import TURN
from burrow_jobs_sql.inline_writes import InlineWrites, Passed
from burrow_jobs_sql.runner import Runner
from burrow_tasks.jobs import NewJob
from burrow_tasks.types import JobStatus

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SLOW = 0.002
FIRST_PAUSE = 0.05
PAUSE = 1.0


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db_path(wal_file: Path) -> str:
    return str(wal_file)


@pytest.fixture
def engine(db_path: str) -> Iterator[Engine]:
    made = sa.create_engine(
        f"sqlite:///{db_path}", connect_args={"timeout": 5.0, "check_same_thread": False}
    )
    yield made
    made.dispose()


@pytest.fixture
async def runner(engine: Engine) -> AsyncIterator[Runner]:
    made = Runner(engine, 1, hold_connections=True)
    yield made
    await made.shutdown(thread_timeout=10.0)


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def inline(engine: Engine, runner: Runner, clock: FakeTime) -> Iterator[InlineWrites]:
    made = InlineWrites(
        engine,
        runner,
        slow=SLOW,
        slow_streak=3,
        first_pause=FIRST_PAUSE,
        pause=PAUSE,
        clock=clock,
    )
    yield made
    made.close()


def insert(connection: Connection) -> str:
    connection.exec_driver_sql("INSERT INTO t (note) VALUES ('x')")
    return threading.current_thread().name


def slow_insert(clock: FakeTime) -> Any:
    def work(connection: Connection) -> str:
        clock.now += SLOW * 2
        return insert(connection)

    return work


def write_inline(inline: InlineWrites, count: int) -> bool:
    """Make ``count`` inline writes, trying again while one passes (the SQL thread is
    checkpointing); False if they did not all get through in a generous number of tries."""
    written = 0
    for _ in range(count * 100):
        if inline.run(insert) is Passed.PASSED:
            time.sleep(0.001)  # let the SQL thread have the GIL and finish
            continue
        written += 1
        if written == count:
            return True
    return False


def rows(path: str) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT count(*) FROM t").fetchone()[0])
    finally:
        connection.close()


def test_a_write_that_can_start_at_once_runs_on_the_calling_thread(
    inline: InlineWrites, db_path: str
) -> None:
    assert inline.run(insert) == threading.current_thread().name
    assert rows(db_path) == 1


def test_a_write_passes_with_nothing_written_while_another_connection_holds_the_lock(
    inline: InlineWrites, db_path: str
) -> None:
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert inline.run(insert) is Passed.PASSED
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert rows(db_path) == 0


def test_a_write_passes_while_the_sql_thread_is_writing(
    inline: InlineWrites, runner: Runner
) -> None:
    with runner.writing:
        assert inline.run(insert) is Passed.PASSED


def test_a_write_started_inside_another_inline_write_passes(inline: InlineWrites) -> None:
    def nested(connection: Connection) -> object:
        insert(connection)
        return inline.run(insert)

    assert inline.run(nested) is Passed.PASSED


def test_slow_writes_in_a_row_pause_inline_writing(
    inline: InlineWrites, clock: FakeTime, db_path: str
) -> None:
    for _ in range(3):
        assert inline.run(slow_insert(clock)) != Passed.PASSED
    assert inline.run(insert) is Passed.PASSED
    assert rows(db_path) == 3


def test_a_quick_write_breaks_a_slow_streak(inline: InlineWrites, clock: FakeTime) -> None:
    for work in (slow_insert(clock), slow_insert(clock), insert, slow_insert(clock), insert):
        assert inline.run(work) != Passed.PASSED


def slow_streak(inline: InlineWrites, clock: FakeTime) -> None:
    for _ in range(3):
        assert inline.run(slow_insert(clock)) != Passed.PASSED


def pause_length(inline: InlineWrites, clock: FakeTime, *, then_slow: bool = False) -> float:
    """Seconds until a write runs inline again, found in steps of a millisecond; that write
    is a slow one when ``then_slow``."""
    started = clock.now
    while True:
        trying = clock.now
        if inline.run(slow_insert(clock) if then_slow else insert) is not Passed.PASSED:
            return round(trying - started, 3)
        clock.now += 0.001


def test_inline_writing_resumes_after_the_first_pause(
    inline: InlineWrites, clock: FakeTime
) -> None:
    slow_streak(inline, clock)
    clock.now += FIRST_PAUSE
    assert inline.run(insert) == threading.current_thread().name


def test_one_slow_write_after_the_pause_pauses_again(inline: InlineWrites, clock: FakeTime) -> None:
    slow_streak(inline, clock)
    clock.now += FIRST_PAUSE
    assert inline.run(slow_insert(clock)) != Passed.PASSED
    assert inline.run(insert) is Passed.PASSED


def test_a_streak_soon_after_a_pause_pauses_twice_as_long(
    inline: InlineWrites, clock: FakeTime
) -> None:
    slow_streak(inline, clock)
    clock.now += FIRST_PAUSE
    inline.run(slow_insert(clock))
    assert pause_length(inline, clock) == 2 * FIRST_PAUSE


def test_pauses_stop_growing_at_the_longest(inline: InlineWrites, clock: FakeTime) -> None:
    slow_streak(inline, clock)
    lengths = [pause_length(inline, clock, then_slow=True) for _ in range(8)]
    assert lengths == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_a_streak_long_after_the_last_pause_pauses_briefly_again(
    inline: InlineWrites, clock: FakeTime
) -> None:
    slow_streak(inline, clock)
    clock.now += FIRST_PAUSE
    inline.run(slow_insert(clock))  # a second, longer pause
    clock.now += PAUSE + 2 * FIRST_PAUSE
    inline.run(insert)
    slow_streak(inline, clock)
    assert pause_length(inline, clock) == FIRST_PAUSE


def test_the_first_pause_may_not_be_longer_than_the_longest(engine: Engine, runner: Runner) -> None:
    with pytest.raises(ValueError, match="first_pause <= pause"):
        InlineWrites(engine, runner, first_pause=2.0, pause=1.0)


def test_an_inline_writer_owes_its_event_loop_a_turn_once_a_millisecond(
    inline: InlineWrites, clock: FakeTime
) -> None:
    clock.now += TURN
    assert inline.owes_a_turn()
    assert not inline.owes_a_turn()
    clock.now += TURN
    assert inline.owes_a_turn()


async def test_a_coroutine_enqueueing_in_a_loop_lets_other_coroutines_run(tmp_path: Path) -> None:
    store = SQLStore.from_dsn(f"sqlite:///{tmp_path / 'q.db'}")
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_work())
    await asyncio.sleep(0)
    try:
        before = turns
        for index in range(100):  # 100 commits, milliseconds in all; no checkpoint yet
            await store.jobs_insert([new_job(index)], now=NOW)
        assert turns > before
    finally:
        other.cancel()
        await store.close()


def test_an_error_other_than_busy_reaches_the_caller_and_frees_the_next_write(
    inline: InlineWrites,
) -> None:
    def broken(connection: Connection) -> None:
        connection.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(OperationalError, match="no_such_table"):
        inline.run(broken)
    assert inline.run(insert) == threading.current_thread().name


async def test_the_sql_thread_checkpoints_after_every_n_inline_writes(
    engine: Engine, runner: Runner, clock: FakeTime
) -> None:
    checkpoints: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "wal_checkpoint" in statement:
            checkpoints.append(threading.current_thread().name)

    sa.event.listen(engine, "before_cursor_execute", record)
    inline = InlineWrites(engine, runner, checkpoint_every=5, clock=clock)
    try:
        assert write_inline(inline, 10)  # a write passes while the SQL thread checkpoints
        await runner(lambda _connection: None)  # the posted work ran before this
    finally:
        inline.close()
    assert len(checkpoints) == 2
    assert all(name.startswith("burrow-sql") for name in checkpoints)


def test_a_stream_of_inline_writes_keeps_the_log_file_small(
    engine: Engine, runner: Runner, clock: FakeTime, db_path: str
) -> None:
    inline = InlineWrites(engine, runner, checkpoint_every=50, clock=clock)
    try:
        assert write_inline(inline, 4_000)
    finally:
        inline.close()
    # Never copied to its end, the log would hold every commit: 4,000 of a page or more
    # each. With a checkpoint posted every 50 it restarts, a few hundred commits later at
    # most (the SQL thread waits for the GIL while this loop writes).
    assert Path(db_path + "-wal").stat().st_size < 2_000 * 4_096


def test_the_inline_connection_never_checkpoints_by_itself(inline: InlineWrites) -> None:
    def autocheckpoint(connection: Connection) -> int:
        return int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

    assert inline.run(autocheckpoint) == 0


def test_closing_keeps_the_zero_busy_timeout_out_of_the_pool(
    inline: InlineWrites, engine: Engine
) -> None:
    inline.run(insert)
    inline.close()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 5000


def test_closing_never_waits_for_the_sql_thread(
    inline: InlineWrites, runner: Runner, engine: Engine
) -> None:
    inline.run(insert)
    with runner.writing:  # the SQL thread in a long busy wait
        inline.close()
        assert inline.run(insert) is Passed.PASSED
    inline.close()  # the store closes again once its SQL threads stopped
    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.checkedout() == 0


async def test_work_queued_behind_a_statement_that_never_returns_is_answered_at_close(
    engine: Engine,
) -> None:
    runner = Runner(engine, 1, hold_connections=True)
    answered = threading.Event()

    def stuck(_connection: Connection) -> None:
        answered.wait(timeout=30)

    first = asyncio.ensure_future(runner(stuck))
    queued = asyncio.ensure_future(runner(insert))
    await asyncio.sleep(0.05)
    try:
        await runner.shutdown(thread_timeout=0.1)
        with pytest.raises(RuntimeError, match="closed"):
            await asyncio.wait_for(queued, 5)
    finally:
        answered.set()  # the statement returns after all; its thread then stops
    await asyncio.wait_for(first, 5)


def test_a_closed_inline_writer_passes_every_write(inline: InlineWrites) -> None:
    inline.close()
    assert inline.run(insert) is Passed.PASSED


# --- through the store ------------------------------------------------------------------------


def new_job(index: int) -> NewJob:
    return NewJob(type="t", payload=f'{{"i":{index}}}', priority=0, max_retries=3, run_at=NOW)


async def test_enqueues_beside_a_busy_worker_are_each_stored_once(tmp_path: Path) -> None:
    store = SQLStore.from_dsn(f"sqlite:///{tmp_path / 'q.db'}")
    enqueued: list[str] = []
    completed = 0

    async def enqueue_all() -> None:
        for index in range(300):
            enqueued.extend(await store.jobs_insert([new_job(index)], now=NOW))

    async def work_off() -> None:
        nonlocal completed
        while completed < 300:
            claimed = await store.jobs_claim(10, types=["t"], now=NOW)
            written = await asyncio.gather(
                *(store.job_complete(j.id, j.lease, result=None, now=NOW) for j in claimed)
            )
            completed += sum(written)

    try:
        await asyncio.wait_for(asyncio.gather(enqueue_all(), work_off()), timeout=60)
        counts = await store.jobs_count_by_status()
    finally:
        await store.close()
    assert len(set(enqueued)) == 300
    assert counts[JobStatus.COMPLETED] == sum(counts.values()) == 300
