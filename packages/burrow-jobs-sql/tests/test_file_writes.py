"""The inotify watch of a SQLite database's writes (Linux): what wakes it and what does not."""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from burrow_jobs_sql.file_writes import FileWrites, open_file_writes

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="inotify is Linux's; elsewhere the watch polls"
)

# A safety net so a missing report fails the test instead of hanging it; never a measurement.
NO_HANG = 30.0


@pytest.fixture
def database(wal_file: Path) -> Path:
    return wal_file


@pytest.fixture
def writes(database: Path) -> Iterator[FileWrites]:
    watch = open_file_writes(str(database))
    assert watch is not None
    yield watch
    watch.close()


def _commit(database: Path) -> None:
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("INSERT INTO t (note) VALUES ('x')")
    connection.close()


def test_nothing_written_reports_nothing(writes: FileWrites) -> None:
    assert writes.wait(0) is False


def test_a_commit_by_another_connection_is_reported(database: Path, writes: FileWrites) -> None:
    _commit(database)

    assert writes.wait(NO_HANG) is True


def test_a_report_is_taken_once(database: Path, writes: FileWrites) -> None:
    _commit(database)
    assert writes.wait(NO_HANG) is True

    assert writes.wait(0) is False


def test_writes_to_other_files_in_the_directory_are_not_reported(
    database: Path, writes: FileWrites
) -> None:
    (database.parent / "unrelated.log").write_text("written\n")

    assert writes.wait(0.05) is False


def test_a_queue_of_reports_that_overflowed_counts_as_a_write(
    database: Path, writes: FileWrites
) -> None:
    # More new files than the kernel queues reports for: the reports of a write to the
    # database could have been among the ones dropped.
    queued = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    for n in range(queued + 1):
        (database.parent / f"other-{n}").touch()

    assert writes.wait(0) is True


def test_interrupt_ends_a_wait_from_another_thread(writes: FileWrites) -> None:
    waited: list[bool] = []
    waiter = threading.Thread(target=lambda: waited.append(writes.wait(NO_HANG)))
    waiter.start()

    writes.interrupt()
    waiter.join(NO_HANG)

    assert not waiter.is_alive()
    assert waited == [False]


def test_a_directory_that_cannot_be_watched_gives_no_watch(tmp_path: Path) -> None:
    assert open_file_writes(str(tmp_path / "missing" / "jobs.db")) is None
