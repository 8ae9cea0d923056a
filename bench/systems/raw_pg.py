"""The PostgreSQL floor: a minimal job table driven directly on psycopg.

What the database itself can do for a queue with the same durability as everything else in
the run (stock settings, ``synchronous_commit=on``, logged tables):
- W1: one autocommit ``INSERT ... RETURNING`` with ``pg_notify`` per job;
- W2: one multi-row insert (``unnest`` of a payload array) and one notify;
- W3: claim 10 with ``UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING``, run the handlers
  inline, acknowledge the 10 in one ``UPDATE``;
- W4: an idle worker blocks on LISTEN (1 s fallback poll).
Sync psycopg is used on purpose: a floor should carry no event-loop overhead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from bench import probe
from bench.systems.base import System

CHANNEL = "bench_jobs"

SCHEMA = """
CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    type text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    priority integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    run_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX jobs_claimable ON jobs (priority DESC, run_at, id) WHERE status = 'pending';
"""

INSERT_ONE = f"""
WITH job AS (INSERT INTO jobs (type, payload) VALUES ('noop', %s) RETURNING id)
SELECT id, pg_notify('{CHANNEL}', '') FROM job
"""

INSERT_MANY = """
INSERT INTO jobs (type, payload) SELECT 'noop', p FROM unnest(%s::jsonb[]) AS p
"""

CLAIM = """
UPDATE jobs SET status = 'running', attempts = attempts + 1
WHERE id IN (
    SELECT id FROM jobs
    WHERE status = 'pending' AND run_at <= now()
    ORDER BY priority DESC, run_at, id
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING id, payload
"""

ACK = "UPDATE jobs SET status = 'completed', completed_at = now() WHERE id = ANY(%s)"


def _payload(index: int) -> str:
    return json.dumps({"i": index})


class RawPostgres(System):
    name = "raw-pg"
    database = "postgresql"
    kind = "floor"
    settings = "psycopg 3 sync, claim 10 / ack 10, LISTEN + 1 s poll"

    _conn: psycopg.Connection[Any] | None = None
    _batch = 10

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            self._conn = psycopg.connect(self.target.dsn, autocommit=True)
        return self._conn

    async def install(self) -> None:
        with psycopg.connect(self.target.dsn, autocommit=True) as conn:
            conn.execute(SCHEMA)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def enqueue_one(self, index: int) -> None:
        self._connection().execute(INSERT_ONE, (_payload(index),)).fetchone()

    async def enqueue_batch(self, indexes: Sequence[int]) -> None:
        conn = self._connection()
        with conn.transaction():
            conn.execute(INSERT_MANY, ([_payload(i) for i in indexes],))
            conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))

    async def count_done(self) -> int:
        row = (
            self._connection()
            .execute("SELECT count(*) FROM jobs WHERE status = 'completed'")
            .fetchone()
        )
        return int(row[0]) if row else 0

    async def prepare_worker(self, concurrency: int) -> None:
        self._batch = concurrency
        conn = self._connection()
        conn.execute(f"LISTEN {CHANNEL}")
        conn.prepare_threshold = 0  # prepare CLAIM and ACK on first use

    async def run_worker(self) -> None:
        conn = self._connection()
        while True:
            claimed = conn.execute(CLAIM, (self._batch,)).fetchall()
            if not claimed:
                for _ in conn.notifies(timeout=1.0, stop_after=1):
                    pass
                continue
            for _id, payload in claimed:
                probe.record(payload["i"])
            conn.execute(ACK, ([job_id for job_id, _ in claimed],))
