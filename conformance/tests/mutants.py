"""Mutants of the example store: each changes one method so that it breaks one rule.

``test_mutants.py`` runs a named suite test against each and expects it to fail: a suite
that passes a mutant does not check the rule it claims to. The mutants reuse the example's
private helpers (``_job``, ``_us``, ...) so each differs from it in exactly one decision.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from burrow_example_store import (
    _CLAIMABLE,
    _CLAIMED_FIELDS,
    SqliteExampleStore,
    _job,
    _us,
)

import burrow_tasks as bt
from burrow_tasks import store as rules


async def _claim(
    store: SqliteExampleStore,
    limit: int,
    types: Collection[str],
    now: datetime,
    *,
    claimable: str = _CLAIMABLE,
    due: str = "run_at <= :now",
    order: str = "priority DESC, run_at, id",
    lease: str = ":lease",
    status: str = "'running'",
) -> list[bt.ClaimedJob]:
    """The example's claim with one of its decisions swapped out."""
    select = f"""SELECT id FROM jobs WHERE {claimable} AND {due} AND type IN
        (SELECT value FROM json_each(:types)) ORDER BY {order} LIMIT :limit"""
    claim = f"""UPDATE jobs SET status = {status}, attempts = attempts + 1, lease = {lease},
        last_attempted_at = :now, heartbeat_at = :now, updated_at = :now
        WHERE id = :id RETURNING *"""
    params = {"now": _us(now), "types": json.dumps(list(types)), "limit": limit}
    with store._transaction() as db:
        ids = db.execute(select, params).fetchall()
        rows = [db.execute(claim, {**params, "id": i, "lease": uuid.uuid4().hex}) for (i,) in ids]
        claimed = [_job(row.fetchone()) for row in rows]
    return [bt.ClaimedJob(**{n: getattr(job, n) for n in _CLAIMED_FIELDS}) for job in claimed]


class ClaimIgnoresPriority(SqliteExampleStore):
    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[bt.ClaimedJob]:
        return await _claim(self, limit, types, now, order="run_at, id")


class ClaimIgnoresRunAt(SqliteExampleStore):
    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[bt.ClaimedJob]:
        return await _claim(self, limit, types, now, due=":now IS NOT NULL")


class ClaimReturnsRunningJob(SqliteExampleStore):
    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[bt.ClaimedJob]:
        claimable = "status IN ('pending', 'failed', 'running')"
        return await _claim(self, limit, types, now, claimable=claimable)


class AttemptNumberAsLease(SqliteExampleStore):
    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[bt.ClaimedJob]:
        return await _claim(self, limit, types, now, lease="CAST(attempts + 1 AS TEXT)")


class CompleteIgnoresLease(SqliteExampleStore):
    async def job_complete(
        self, job_id: bt.JobId, lease: bt.Lease, *, result: str | None, now: datetime
    ) -> bool:
        update = """UPDATE jobs SET status = 'completed', result = :result, lease = NULL,
            completed_at = :now, updated_at = :now WHERE id = :id AND status = 'running'
            RETURNING id"""
        return bool(self._run(update, {"id": int(job_id), "result": result, "now": _us(now)}))


class BatchCompleteIgnoresLease(SqliteExampleStore):
    async def jobs_complete(
        self, completions: Sequence[bt.Completion], *, now: datetime
    ) -> list[bool]:
        update = """UPDATE jobs SET status = 'completed', result = :result, lease = NULL,
            completed_at = :now, updated_at = :now WHERE id = :id AND status = 'running'
            RETURNING id"""
        return [
            bool(self._run(update, {"id": int(job_id), "result": result, "now": _us(now)}))
            for job_id, _, result in completions
        ]


class FailIgnoresRetryAt(SqliteExampleStore):
    async def job_fail(
        self,
        job_id: bt.JobId,
        lease: bt.Lease,
        *,
        error: bt.JobError,
        retry_at: datetime | None,
        now: datetime,
    ) -> bool:
        retry_now = None if retry_at is None else now
        return await super().job_fail(job_id, lease, error=error, retry_at=retry_now, now=now)


class RescueIgnoresHeartbeat(SqliteExampleStore):
    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[bt.JobId]:
        params = {"stale_before": _us(stale_before), "now": _us(now)}
        expired = (rules.lease_expired_message(stale_before), rules.LEASE_EXPIRED_ERROR_CLASS)
        return [str(i) for i in self._send_back("status = 'running'", params, *expired)]


class RescueLastAttemptToPending(SqliteExampleStore):
    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[bt.JobId]:
        update = """UPDATE jobs SET status = 'pending', run_at = :now, lease = NULL,
            updated_at = :now WHERE status = 'running' AND heartbeat_at < :stale_before
            RETURNING id"""
        rows = self._run(update, {"stale_before": _us(stale_before), "now": _us(now)})
        return sorted(str(i) for (i,) in rows)


class BatchKeepsRowsBeforeFailure(SqliteExampleStore):
    async def jobs_insert(
        self, jobs: Sequence[bt.NewJob], *, now: datetime, using: Any = None
    ) -> list[bt.JobId]:
        ids: list[bt.JobId] = []
        for job in jobs:  # one transaction per row: a bad row leaves the earlier ones
            ids += await super().jobs_insert([job], now=now, using=using)
        return ids


class CleanupDeletesDead(SqliteExampleStore):
    async def jobs_delete_completed(self, *, completed_before: datetime) -> int:
        delete = """DELETE FROM jobs WHERE status IN ('completed', 'dead')
            AND coalesce(completed_at, failed_at) < ? RETURNING id"""
        return len(self._run(delete, (_us(completed_before),)))


class CancelAcceptsCompleted(SqliteExampleStore):
    async def job_cancel(self, job_id: bt.JobId, *, now: datetime) -> None:
        sets = "status = 'dead', cancelled = 1, failed_at = :now, updated_at = :now, lease = NULL"
        accepts = rules.CANCEL_ACCEPTS | {bt.JobStatus.COMPLETED}
        self._operator_action(job_id, "cancel", accepts, sets, _us(now))


class LeaseIsTheJobId(SqliteExampleStore):
    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[bt.ClaimedJob]:
        return await _claim(self, limit, types, now, lease="'lease-' || id")


class ClaimLeavesJobsPending(SqliteExampleStore):
    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[bt.ClaimedJob]:
        return await _claim(self, limit, types, now, status="status")


class CompleteRaisesWhenRefused(SqliteExampleStore):
    async def job_complete(
        self, job_id: bt.JobId, lease: bt.Lease, *, result: str | None, now: datetime
    ) -> bool:
        if not await super().job_complete(job_id, lease, result=result, now=now):
            raise bt.InvalidJobStatus(job_id, bt.JobStatus.PENDING, "complete", frozenset())
        return True


class GuardedWritesParseTheId(SqliteExampleStore):
    def _write_if_leased(self, job_id: bt.JobId, lease: bt.Lease, sets: str, **p: Any) -> bool:
        update = f"UPDATE jobs SET {sets} WHERE id = :id AND lease = :lease RETURNING id"
        return bool(self._run(update, {**p, "id": int(job_id), "lease": lease}))


class RescueRereadsOnlyTheStatus(SqliteExampleStore):
    """Selects the stale jobs, then sends them back in a second transaction that checks
    they are still running but not that they are still stale (the pause stands for a
    network round trip between the two)."""

    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[bt.JobId]:
        select = "SELECT id FROM jobs WHERE status = 'running' AND heartbeat_at < ?"
        stale = [i for (i,) in self._run(select, (_us(stale_before),))]
        if not stale:
            return []
        await asyncio.sleep(0.01)
        where = f"status = 'running' AND id IN ({', '.join(map(str, stale))})"
        params = {"now": _us(now)}
        expired = (rules.lease_expired_message(stale_before), rules.LEASE_EXPIRED_ERROR_CLASS)
        return [str(i) for i in self._send_back(where, params, *expired)]


class DeadKeepsTheEarlierTraceback(SqliteExampleStore):
    def _send_back(self, where: str, params: dict[str, Any], error: str, kind: str) -> list[int]:
        pending = f"""UPDATE jobs SET status = 'pending', run_at = :now, lease = NULL,
            updated_at = :now WHERE {where} AND attempts < max_retries RETURNING id"""
        dead = f"""UPDATE jobs SET status = 'dead', failed_at = :now, last_error = :error,
            error_class = :kind, lease = NULL, updated_at = :now
            WHERE {where} AND attempts >= max_retries RETURNING id"""
        with self._transaction() as db:
            ids = db.execute(pending, params).fetchall()
            ids += db.execute(dead, {**params, "error": error, "kind": kind}).fetchall()
        return sorted(id for (id,) in ids)


class CancelReadsThenWrites(SqliteExampleStore):
    """Checks the status in one transaction and writes in the next (the pause stands for
    a network round trip between the two)."""

    async def job_cancel(self, job_id: bt.JobId, *, now: datetime) -> None:
        job = await self.job_get(job_id)
        if job is None:
            raise bt.JobNotFound(job_id)
        if job.status not in rules.CANCEL_ACCEPTS:
            raise bt.InvalidJobStatus(job_id, job.status, "cancel", rules.CANCEL_ACCEPTS)
        await asyncio.sleep(0.01)
        update = """UPDATE jobs SET status = 'dead', cancelled = 1, failed_at = :now,
            updated_at = :now, lease = NULL WHERE id = :id"""
        self._run(update, {"id": int(job_id), "now": _us(now)})


MUTANTS: dict[str, str] = {
    ClaimIgnoresPriority.__name__: "test_claim_prefers_higher_priority",
    ClaimIgnoresRunAt.__name__: "test_claim_skips_jobs_scheduled_in_the_future",
    ClaimReturnsRunningJob.__name__: "test_claim_never_returns_a_running_job",
    CompleteIgnoresLease.__name__: "test_complete_with_a_wrong_lease_is_refused",
    BatchCompleteIgnoresLease.__name__: "test_jobs_complete_refuses_a_wrong_lease_alone",
    AttemptNumberAsLease.__name__: "test_late_complete_after_cancel_retry_reclaim_is_refused",
    FailIgnoresRetryAt.__name__: "test_fail_with_retry_at_schedules_the_retry",
    RescueIgnoresHeartbeat.__name__: "test_rescue_leaves_a_job_heartbeated_after_the_cutoff",
    RescueLastAttemptToPending.__name__: "test_rescue_sends_last_attempt_to_dead",
    BatchKeepsRowsBeforeFailure.__name__: "test_batch_is_all_or_nothing",
    CleanupDeletesDead.__name__: "test_cleanup_keeps_dead_jobs",
    CancelAcceptsCompleted.__name__: "test_cancel_refuses_completed_and_dead_jobs",
    DeadKeepsTheEarlierTraceback.__name__: (
        "test_rescue_to_dead_replaces_the_error_of_an_earlier_attempt"
    ),
    CancelReadsThenWrites.__name__: "test_cancel_racing_complete_never_cancels_a_completed_job",
    LeaseIsTheJobId.__name__: "test_every_claim_gets_a_distinct_lease",
    GuardedWritesParseTheId.__name__: "test_guarded_writes_on_an_id_never_handed_out_are_refused",
    RescueRereadsOnlyTheStatus.__name__: "test_rescue_racing_heartbeat_never_takes_a_renewed_job",
    # these two hung the suite before its loops learned to stop: they must fail, not hang
    ClaimLeavesJobsPending.__name__: "test_in_loop_claimers_never_share_a_job",
    CompleteRaisesWhenRefused.__name__: "test_rescue_racing_complete_never_undoes_a_complete",
}
"""Each mutant, by class name, and the suite test that must fail on it."""
