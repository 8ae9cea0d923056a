"""The reference model is the spec in code; these pin the rules it is easiest to misread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from burrow_conformance.model import Model, is_json_text
from burrow_tasks.errors import PayloadError
from burrow_tasks.jobs import JobError, NewJob
from burrow_tasks.store import LEASE_EXPIRED_ERROR_CLASS
from burrow_tasks.types import JobStatus

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _row(priority: int = 0, run_in: float = 0, payload: str = "{}") -> NewJob:
    return NewJob("email", payload, priority, 2, NOW + timedelta(seconds=run_in))


def test_model_claims_by_priority_then_run_at_then_enqueue_order() -> None:
    model = Model()
    ids = model.jobs_insert([_row(0), _row(0, run_in=-1), _row(5), _row(0)], now=NOW)
    claimed = model.jobs_claim(10, types=["email"], now=NOW)
    assert [c.id for c in claimed] == [ids[2], ids[1], ids[0], ids[3]]


def test_model_batch_with_a_bad_row_writes_nothing() -> None:
    model = Model()
    with pytest.raises(PayloadError):
        model.jobs_insert([_row(), _row(payload="NaN")], now=NOW)
    assert model.jobs == {}


def test_model_leases_are_never_reused_across_retry() -> None:
    model = Model()
    [job_id] = model.jobs_insert([_row()], now=NOW)
    [first] = model.jobs_claim(1, types=["email"], now=NOW)
    model.job_cancel(job_id, now=NOW)
    model.job_retry(job_id, now=NOW)
    [second] = model.jobs_claim(1, types=["email"], now=NOW)
    assert (first.attempts, second.attempts) == (1, 1)
    assert first.lease != second.lease
    assert not model.job_complete(job_id, first.lease, result=None, now=NOW)


def test_model_rescue_splits_by_attempts_left() -> None:
    model = Model()
    ids = model.jobs_insert([_row(), NewJob("email", "{}", 0, 1, NOW)], now=NOW)
    model.jobs_claim(2, types=["email"], now=NOW)
    later = NOW + timedelta(minutes=10)
    assert model.jobs_rescue(stale_before=later, now=later) == ids
    retryable, last = (model.jobs[i] for i in ids)
    assert (retryable.status, retryable.run_at) == (JobStatus.PENDING, later)
    assert (last.status, last.error_class) == (JobStatus.DEAD, LEASE_EXPIRED_ERROR_CLASS)


def test_model_fail_without_retry_at_is_dead() -> None:
    model = Model()
    [job_id] = model.jobs_insert([_row()], now=NOW)
    [claimed] = model.jobs_claim(1, types=["email"], now=NOW)
    error = JobError("boom", "builtins.ValueError")
    assert model.job_fail(job_id, claimed.lease, error=error, retry_at=None, now=NOW)
    assert (model.jobs[job_id].status, model.jobs[job_id].failed_at) == (JobStatus.DEAD, NOW)


@pytest.mark.parametrize(
    ("text", "valid"),
    [('{"a": 1}', True), ("  [] ", True), ("NaN", False), ("{", False), ("", False)],
)
def test_json_text_is_strict_rfc_8259(text: str, valid: bool) -> None:
    assert is_json_text(text) is valid
