"""Rule 9 and the record format: times come back aware UTC to the microsecond; payloads
and results come back byte for byte."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from burrow_conformance._assertions import Rule, check, violation
from burrow_conformance._harness import Session, store_test
from burrow_tasks.jobs import Job

__all__ = ["RecordTests"]

# Whitespace, key order, escapes and non-ASCII that a JSON round trip would lose.
TRICKY_PAYLOADS = (
    '{"b": 1,  "a": "ü"}',
    '[1, 2.50, 1e3, "\\u00fc", null]',
    '  "just a string"\n',
    '{"emoji": "🦫", "nested": {"z": [], "a": {}}}',
)


def _times(job: Job) -> dict[str, datetime]:
    return {
        name: value
        for name, value in dataclasses.asdict(job).items()
        if isinstance(value, datetime)
    }


class RecordTests:
    """Times and JSON text as a store returns them."""

    @store_test
    async def test_times_come_back_aware_utc_with_microseconds(self, s: Session) -> None:
        s.now = datetime(2026, 7, 9, 23, 59, 59, 999999, tzinfo=UTC)
        claimed = await s.running(run_at=s.now - timedelta(microseconds=1))
        await s.store.job_complete(claimed.id, claimed.lease, result=None, now=s.at(0.000001))
        job = await s.get(claimed.id)
        for name, value in _times(job).items():
            if value.utcoffset() != timedelta(0):
                violation(Rule.TIME, "job_get", f"{name} is {value!r}: not aware UTC")
        check(
            Rule.TIME,
            "job_get after insert/claim/complete at microsecond-precise times",
            expected={
                "run_at": s.now - timedelta(microseconds=1),
                "created_at": s.now,
                "updated_at": s.at(0.000001),
                "last_attempted_at": s.now,
                "heartbeat_at": s.now,
                "completed_at": s.at(0.000001),
            },
            got=_times(job),
        )

    @store_test
    async def test_claimed_job_times_are_aware_utc(self, s: Session) -> None:
        await s.insert(run_at=s.at(-0.5))
        [claimed] = await s.claim(1)
        for name in ("run_at", "created_at"):
            value: datetime = getattr(claimed, name)
            if value.utcoffset() != timedelta(0):
                violation(Rule.TIME, "jobs_claim", f"ClaimedJob.{name} is {value!r}: not aware UTC")
        check(
            Rule.TIME,
            "jobs_claim",
            expected=(s.at(-0.5), s.now),
            got=(claimed.run_at, claimed.created_at),
        )

    @store_test
    async def test_far_apart_times_keep_their_order(self, s: Session) -> None:
        early = await s.insert(run_at=datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
        late = await s.insert(run_at=datetime(2000, 1, 1, tzinfo=UTC))
        check(
            Rule.CLAIM_ORDER,
            "jobs_claim by run_at across a year boundary",
            expected=[early, late],
            got=await s.claim_ids(),
        )

    @store_test
    async def test_payload_is_kept_byte_for_byte(self, s: Session) -> None:
        for payload in TRICKY_PAYLOADS:
            job_id = await s.insert(payload=payload)
            check(
                Rule.PAYLOAD,
                f"jobs_insert(payload={payload!r}) → job_get",
                expected=payload,
                got=(await s.get(job_id)).payload,
            )

    @store_test
    async def test_claimed_payload_is_kept_byte_for_byte(self, s: Session) -> None:
        payload = TRICKY_PAYLOADS[0]
        await s.insert(payload=payload)
        [claimed] = await s.claim(1)
        check(
            Rule.PAYLOAD, "jobs_claim → ClaimedJob.payload", expected=payload, got=claimed.payload
        )

    @store_test
    async def test_result_is_kept_byte_for_byte(self, s: Session) -> None:
        for result in TRICKY_PAYLOADS:
            job_id = await s.completed(result=result)
            check(
                Rule.PAYLOAD,
                f"job_complete(result={result!r}) → job_get",
                expected=result,
                got=(await s.get(job_id)).result,
            )

    @store_test
    async def test_a_null_result_stays_null(self, s: Session) -> None:
        job_id = await s.completed(result=None)
        check(
            Rule.PAYLOAD,
            "job_complete(result=None) → job_get",
            expected=None,
            got=(await s.get(job_id)).result,
        )
