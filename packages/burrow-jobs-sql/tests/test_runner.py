"""The SQL threads: every call is answered or refused, also when a thread cannot start or
the store closes while another thread's event loop is calling. SQLite files, whatever
``--burrow-db`` says: the runner does the same on both databases."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from burrow_jobs_sql.runner import Runner

ANSWER_WITHIN = 5.0
"""Seconds a test waits for an answer before it calls the call hung."""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = sa.create_engine(
        f"sqlite:///{tmp_path / 'runner.db'}", connect_args={"check_same_thread": False}
    )
    yield engine
    engine.dispose()


def select_one(connection: Connection) -> int:
    return int(connection.exec_driver_sql("SELECT 1").scalar_one())


class FailingStarts:
    """``threading.Thread.start`` that fails its next ``count`` calls, as when the process
    is out of threads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
        self.count = count
        real_start = threading.Thread.start

        def start(thread: threading.Thread) -> None:
            if self.count > 0:
                self.count -= 1
                raise RuntimeError("can't start new thread")
            real_start(thread)

        monkeypatch.setattr(threading.Thread, "start", start)


async def test_a_call_whose_thread_cannot_start_is_refused_and_the_next_call_answered(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Runner(engine, 1, hold_connections=True)
    FailingStarts(monkeypatch, count=1)

    with pytest.raises(RuntimeError, match="can't start new thread"):
        await runner(select_one)
    answer = await asyncio.wait_for(runner(select_one), ANSWER_WITHIN)
    await runner.shutdown(ANSWER_WITHIN)

    assert answer == 1


async def test_shutdown_returns_when_a_thread_never_started(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Runner(engine, 1, hold_connections=True)
    FailingStarts(monkeypatch, count=1)
    with pytest.raises(RuntimeError):
        await runner(select_one)

    await asyncio.wait_for(runner.shutdown(ANSWER_WITHIN), ANSWER_WITHIN)


async def test_posted_work_whose_thread_cannot_start_is_logged_not_raised(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A post follows a write that already landed (an inline enqueue's checkpoint): raising
    # would tell its caller the write failed, and a retry would write it twice.
    runner = Runner(engine, 1, hold_connections=True)
    FailingStarts(monkeypatch, count=1)

    with caplog.at_level(logging.WARNING, logger="burrow_jobs_sql"):
        runner.post(select_one)
    await runner.shutdown(ANSWER_WITHIN)

    assert "could not queue posted SQL work" in caplog.text


async def test_a_call_from_another_loop_racing_shutdown_is_refused_not_left_waiting(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Runner(engine, 2, hold_connections=True)
    await runner(select_one)  # one thread, now idle

    # The other loop's call starts the second thread; its start waits until shutdown has
    # begun, so the call reaches the queue only after shutdown queued its stop markers.
    shutting_down = threading.Event()
    starting = threading.Event()
    real_start = threading.Thread.start

    def start_after_shutdown_began(thread: threading.Thread) -> None:
        if threading.current_thread().name == "other-loop":
            starting.set()
            shutting_down.wait(ANSWER_WITHIN)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_after_shutdown_began)
    outcome: list[object] = []

    def other_loop() -> None:
        async def call() -> None:
            blocker = runner(lambda c: c.exec_driver_sql("SELECT 1").scalar_one())
            other = runner(select_one)
            try:
                outcome.extend(
                    await asyncio.wait_for(asyncio.gather(blocker, other), ANSWER_WITHIN)
                )
            except RuntimeError as error:
                outcome.append(error)
            except TimeoutError:
                outcome.append("hung")

        asyncio.run(call())

    caller = threading.Thread(target=other_loop, name="other-loop")
    caller.start()
    await asyncio.to_thread(starting.wait, ANSWER_WITHIN)
    shutdown = asyncio.create_task(runner.shutdown(ANSWER_WITHIN))
    await asyncio.sleep(0.05)  # shutdown has marked the runner closed
    shutting_down.set()
    await shutdown
    await asyncio.to_thread(caller.join, ANSWER_WITHIN)

    # Refused, as the store was closing before the call reached the queue; not left waiting.
    assert len(outcome) == 1
    assert isinstance(outcome[0], RuntimeError)
    assert "closed" in str(outcome[0])
