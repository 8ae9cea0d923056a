"""The SQLite floor: a minimal job table driven directly on the stdlib ``sqlite3``.

Same durability as burrow's SQLite store: WAL with ``synchronous=FULL``. Every write is a
short ``BEGIN IMMEDIATE`` transaction (W1: one insert each; W2: one transaction of
``executemany``). The worker claims 10 with one ``UPDATE ... RETURNING``, runs the handlers
inline, acknowledges the 10 in one ``UPDATE`` and polls every 10 ms when idle.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Sequence

from bench import probe
from bench.systems.base import System

POLL_SECONDS = 0.010

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    priority INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_claimable ON jobs (priority DESC, run_at, id)
    WHERE status = 'pending';
"""

INSERT = "INSERT INTO jobs (type, payload, run_at, created_at) VALUES ('noop', ?, ?, ?)"

CLAIM = """
UPDATE jobs SET status = 'running', attempts = attempts + 1
WHERE id IN (
    SELECT id FROM jobs
    WHERE status = 'pending' AND run_at <= ?
    ORDER BY priority DESC, run_at, id
    LIMIT ?
)
RETURNING id, payload
"""


def _now_us() -> int:
    return time.time_ns() // 1_000


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with the floor's
    durability: WAL, ``synchronous=FULL``, a 5 s busy timeout."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class RawSqlite(System):
    name = "raw-sqlite"
    database = "sqlite"
    kind = "floor"
    settings = "sqlite3, WAL + synchronous=FULL, claim 10 / ack 10, 10 ms poll"

    _conn: sqlite3.Connection | None = None
    _batch = 10

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.target.path)
        return self._conn

    async def install(self) -> None:
        self._connection().executescript(SCHEMA)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def enqueue_one(self, index: int) -> None:
        conn = self._connection()
        now = _now_us()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(INSERT + " RETURNING id", (json.dumps({"i": index}), now, now)).fetchone()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def enqueue_batch(self, indexes: Sequence[int]) -> None:
        conn = self._connection()
        now = _now_us()
        rows = [(json.dumps({"i": i}), now, now) for i in indexes]
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(INSERT, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def count_done(self) -> int:
        row = (
            self._connection()
            .execute("SELECT count(*) FROM jobs WHERE status = 'completed'")
            .fetchone()
        )
        return int(row[0]) if row else 0

    async def prepare_worker(self, concurrency: int) -> None:
        self._batch = concurrency
        self._connection()

    async def run_worker(self) -> None:
        conn = self._connection()
        while True:
            conn.execute("BEGIN IMMEDIATE")
            claimed = conn.execute(CLAIM, (_now_us(), self._batch)).fetchall()
            conn.execute("COMMIT")
            if not claimed:
                await asyncio.sleep(POLL_SECONDS)
                continue
            for _id, payload in claimed:
                probe.record(json.loads(payload)["i"])
            ids = [job_id for job_id, _ in claimed]
            marks = ",".join("?" * len(ids))
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                f"UPDATE jobs SET status = 'completed', completed_at = ? WHERE id IN ({marks})",
                (_now_us(), *ids),
            )
            conn.execute("COMMIT")
