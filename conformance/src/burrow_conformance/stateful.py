"""The store and the reference model, side by side, under random sequences of calls.

``StoreMachine`` drives one fresh store (from the backend's factory, on its own event loop)
and one ``Model`` with the same calls at the same times; every return value, raised error
and, after every step, every job's observable fields must agree. Ids are matched by enqueue
order; leases by identity (the store's lease from a claim is paired with the model's, and
must never have been handed out before).

A failure prints as a readable call sequence, e.g.::

    state = StoreMachine(...)
    jobs_0 = state.insert(type='email', priority=0, max_retries=1, run_in=0, payload='[]')
    state.claim(limit=1, types=('email',))
    state.cancel(job=jobs_0)
    ...
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from burrow_conformance import strategies as gen
from burrow_conformance._assertions import Rule, check, violation
from burrow_conformance._harness import T0, StoreFactory
from burrow_conformance.model import Model
from burrow_conformance.profiles import profile_settings
from burrow_tasks.errors import InvalidJobStatus, JobNotFound, PayloadError
from burrow_tasks.jobs import ClaimedJob, Completion, Job, JobError, NewJob
from burrow_tasks.store import CompletesInBatches, JobStore
from burrow_tasks.types import Capability, JobId, JobStatus, Lease

__all__ = ["StoreMachine", "run_machine"]

T = TypeVar("T")

ERROR = JobError(message="stateful boom", error_class="builtins.RuntimeError", traceback="tb")
NEVER_ISSUED = "lease-never-issued"
KNOWN_ERRORS = (JobNotFound, InvalidJobStatus, PayloadError)


def _outcome(call: Callable[[], T]) -> tuple[str, Any]:
    try:
        return ("returned", call())
    except KNOWN_ERRORS as error:
        return ("raised", _error_name(error))


def _error_name(error: Exception) -> str:
    return next(cls.__name__ for cls in KNOWN_ERRORS if isinstance(error, cls))


class StoreMachine(RuleBasedStateMachine):
    """One store, one model, the same calls."""

    jobs = Bundle("jobs")
    claimed = Bundle("claimed")
    written = st.one_of(claimed, jobs)
    """A guarded write's job: one a claim returned as often as any job, or the machine would
    seldom write to a running job under its lease (in a run of the ``ci`` profile on the
    memory store: 11 accepted completions, 1 failure, no heartbeat, release or rescue)."""

    def __init__(self, factory: StoreFactory) -> None:
        super().__init__()
        self._runner = asyncio.Runner()
        self.store: JobStore = self._runner.run(_open(factory))
        self.model = Model()
        self.now: datetime = T0
        self._store_id: dict[JobId, JobId] = {}  # model id → store id
        self._model_id: dict[JobId, JobId] = {}  # store id → model id
        self._store_lease: dict[Lease, Lease] = {NEVER_ISSUED: NEVER_ISSUED}
        self._model_lease: dict[Lease, Lease] = {}
        self._leases_of: dict[JobId, list[Lease]] = {}  # model id → its model leases

    def teardown(self) -> None:
        try:
            self._runner.run(self.store.close())
        finally:
            self._runner.close()

    # --- plumbing ------------------------------------------------------------------------------

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coroutine)

    def _store_outcome(self, call: Callable[[], Awaitable[T]]) -> tuple[str, Any]:
        async def attempt() -> tuple[str, Any]:
            try:
                return ("returned", await call())
            except KNOWN_ERRORS as error:
                return ("raised", _error_name(error))

        return self._run(attempt())

    def _sid(self, model_id: JobId) -> JobId:
        return self._store_id[model_id]

    def _lease_for(self, model_id: JobId, choice: str) -> Lease:
        """The model lease a guarded write presents (see ``strategies.LEASE_CHOICES``)."""
        history = self._leases_of.get(model_id, [])
        job = self.model.job_get(model_id)
        if choice == "current" and job is not None and job.lease is not None:
            return job.lease
        if choice in ("current", "first") and history:
            return history[-1] if choice == "current" else history[0]
        return NEVER_ISSUED

    def _as_model_view(self, job: Job) -> Job:
        """The store's job with ids and leases translated to the model's names."""
        model_id = self._model_id.get(job.id)
        if model_id is None:
            violation(
                Rule.MODEL, "jobs_list", f"the store returned a job it never created: {job!r}"
            )
        lease = job.lease
        if lease is not None:
            lease = self._model_lease.get(lease, f"<a lease no claim returned: {lease!r}>")
        return replace(job, id=model_id, lease=lease)

    def _record_inserted(self, model_ids: list[JobId], store_ids: list[JobId]) -> None:
        check(Rule.MODEL, "jobs_insert → how many ids", expected=len(model_ids), got=len(store_ids))
        for model_id, store_id in zip(model_ids, store_ids, strict=True):
            if store_id in self._model_id:
                violation(Rule.INSERT, "jobs_insert", f"id {store_id!r} was handed out before")
            self._store_id[model_id] = store_id
            self._model_id[store_id] = model_id

    # --- enqueue -------------------------------------------------------------------------------

    @rule(
        target=jobs,
        type=gen.job_types,
        priority=gen.priorities,
        max_retries=gen.max_retries,
        run_in=gen.run_offsets,
        payload=gen.payloads,
    )
    def insert(
        self, type: str, priority: int, max_retries: int, run_in: int, payload: str
    ) -> JobId:
        row = NewJob(type, payload, priority, max_retries, self.now + timedelta(seconds=run_in))
        model_ids = self.model.jobs_insert([row], now=self.now)
        store_ids = self._run(self.store.jobs_insert([row], now=self.now))
        self._record_inserted(model_ids, store_ids)
        return model_ids[0]

    @rule(
        target=jobs,
        rows=st.lists(
            st.tuples(gen.job_types, gen.priorities, gen.max_retries, gen.payloads),
            min_size=1,
            max_size=4,
        ),
        bad_row=st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    )
    def insert_batch(self, rows: list[tuple[str, int, int, str]], bad_row: int | None) -> Any:
        batch = [NewJob(t, p, pr, mr, self.now) for t, pr, mr, p in rows]
        if bad_row is not None and bad_row < len(batch):
            batch[bad_row] = replace(batch[bad_row], payload=gen.BAD_PAYLOAD)
        expected = _outcome(lambda: self.model.jobs_insert(batch, now=self.now))
        got = self._store_outcome(lambda: self.store.jobs_insert(batch, now=self.now))
        if expected[0] == "raised" or got[0] == "raised":
            check(
                Rule.BATCH,
                f"jobs_insert({len(batch)} rows, bad row {bad_row})",
                expected=expected,
                got=got,
            )
            return multiple()
        self._record_inserted(expected[1], got[1])
        return multiple(*expected[1])

    # --- the worker's writes -----------------------------------------------------------------

    @rule(target=claimed, limit=st.integers(min_value=1, max_value=3), types=gen.type_sets)
    def claim(self, limit: int, types: tuple[str, ...]) -> Any:
        return multiple(*(c.id for c in self._claim(limit, types)))

    @rule(target=claimed, then=gen.worker_steps, retry_in=gen.retry_delays, result=gen.results)
    def work(self, then: str, retry_in: int | None, result: str | None) -> Any:
        """A worker's turn: claim one job of any type and write its outcome under the lease
        just handed out, leave it running, or die over it (a rescue takes it back ten
        minutes later), so that runs reach second attempts, last attempts and stale
        workers, not only refused writes."""
        done = self._claim(1, gen.TYPES)
        if not done:
            return multiple()
        job = done[0].id
        if then == "complete":
            self.complete(job, "current", result)
        elif then == "fail":
            self.fail(job, "current", retry_in)
        elif then == "release":
            self.release(job, "current")
        elif then == "heartbeat":
            self.heartbeat(job, "current")
        elif then == "die":  # the worker is gone: its lease goes stale and a rescue comes
            self.advance(600)
            self.rescue(30)
        return multiple(job)

    def _claim(self, limit: int, types: tuple[str, ...]) -> list[ClaimedJob]:
        """``jobs_claim`` on both, checked; the model's claimed jobs."""
        expected = self.model.jobs_claim(limit, types=types, now=self.now)
        got = self._run(self.store.jobs_claim(limit, types=types, now=self.now))
        operation = f"jobs_claim({limit}, types={types!r})"
        check(
            Rule.CLAIM_ORDER,
            operation + " → ids (model names)",
            expected=[c.id for c in expected],
            got=[self._model_id.get(c.id, c.id) for c in got],
        )
        for want, have in zip(expected, got, strict=True):
            if have.lease in self._model_lease:
                violation(
                    Rule.LEASE_FRESH, operation, f"lease {have.lease!r} was handed out before"
                )
            self._model_lease[have.lease] = want.lease
            self._store_lease[want.lease] = have.lease
            self._leases_of.setdefault(want.id, []).append(want.lease)
            check(
                Rule.CLAIM_EXCLUSIVE, operation, expected=_claim_view(want), got=_claim_view(have)
            )
        return expected

    @rule(job=written, lease=gen.lease_choices)
    def heartbeat(self, job: JobId, lease: str) -> None:
        model_lease = self._lease_for(job, lease)
        expected = self.model.job_heartbeat(job, model_lease, now=self.now)
        got = self._run(
            self.store.job_heartbeat(self._sid(job), self._store_lease[model_lease], now=self.now)
        )
        check(Rule.LEASE_GUARD, f"job_heartbeat({job}, lease={lease})", expected=expected, got=got)

    @rule(job=written, lease=gen.lease_choices, result=gen.results)
    def complete(self, job: JobId, lease: str, result: str | None) -> None:
        model_lease = self._lease_for(job, lease)
        expected = self.model.job_complete(job, model_lease, result=result, now=self.now)
        got = self._run(
            self.store.job_complete(
                self._sid(job), self._store_lease[model_lease], result=result, now=self.now
            )
        )
        check(Rule.LEASE_GUARD, f"job_complete({job}, lease={lease})", expected=expected, got=got)

    @precondition(lambda self: Capability.BATCH_COMPLETE in self.store.capabilities)
    @rule(
        items=st.lists(st.tuples(written, gen.lease_choices, gen.results), min_size=1, max_size=4)
    )
    def complete_batch(self, items: list[tuple[JobId, str, str | None]]) -> None:
        leases = [self._lease_for(job, lease) for job, lease, _ in items]
        pairs = list(zip(items, leases, strict=True))
        expected = self.model.jobs_complete(
            [Completion(job, lease, result) for (job, _, result), lease in pairs], now=self.now
        )
        batch = [
            Completion(self._sid(job), self._store_lease[lease], result)
            for (job, _, result), lease in pairs
        ]
        store = cast(CompletesInBatches, self.store)
        got = self._run(store.jobs_complete(batch, now=self.now))
        operation = "jobs_complete(" + ", ".join(f"{job}/{lease}" for job, lease, _ in items) + ")"
        check(Rule.LEASE_GUARD, operation, expected=expected, got=got)

    @rule(job=written, lease=gen.lease_choices, retry_in=gen.retry_delays)
    def fail(self, job: JobId, lease: str, retry_in: int | None) -> None:
        model_lease = self._lease_for(job, lease)
        retry_at = None if retry_in is None else self.now + timedelta(seconds=retry_in)
        expected = self.model.job_fail(
            job, model_lease, error=ERROR, retry_at=retry_at, now=self.now
        )
        got = self._run(
            self.store.job_fail(
                self._sid(job),
                self._store_lease[model_lease],
                error=ERROR,
                retry_at=retry_at,
                now=self.now,
            )
        )
        check(
            Rule.LEASE_GUARD,
            f"job_fail({job}, lease={lease}, retry_in={retry_in})",
            expected=expected,
            got=got,
        )

    @rule(job=written, lease=gen.lease_choices)
    def release(self, job: JobId, lease: str) -> None:
        model_lease = self._lease_for(job, lease)
        expected = self.model.job_release(job, model_lease, now=self.now)
        got = self._run(
            self.store.job_release(self._sid(job), self._store_lease[model_lease], now=self.now)
        )
        check(Rule.LEASE_GUARD, f"job_release({job}, lease={lease})", expected=expected, got=got)

    # --- maintenance ---------------------------------------------------------------------------

    @rule(stale_for=gen.stale_ages)
    def rescue(self, stale_for: int) -> None:
        stale_before = self.now - timedelta(seconds=stale_for)
        expected = self.model.jobs_rescue(stale_before=stale_before, now=self.now)
        got = self._run(self.store.jobs_rescue(stale_before=stale_before, now=self.now))
        check(
            Rule.RESCUE,
            f"jobs_rescue(stale_before=now-{stale_for}s) → ids (model names)",
            expected=sorted(expected, key=int),
            got=sorted(
                (self._model_id.get(i, i) for i in got), key=lambda i: int(i) if i.isdigit() else -1
            ),
        )

    @rule(older_than=gen.retention_ages)
    def cleanup(self, older_than: int) -> None:
        cutoff = self.now - timedelta(seconds=older_than)
        expected = self.model.jobs_delete_completed(completed_before=cutoff)
        got = self._run(self.store.jobs_delete_completed(completed_before=cutoff))
        check(
            Rule.CLEANUP,
            f"jobs_delete_completed(completed_before=now-{older_than}s)",
            expected=expected,
            got=got,
        )

    # --- operator actions ----------------------------------------------------------------------

    @rule(job=jobs)
    def retry(self, job: JobId) -> None:
        expected = _outcome(lambda: self.model.job_retry(job, now=self.now))
        got = self._store_outcome(lambda: self.store.job_retry(self._sid(job), now=self.now))
        check(Rule.OPERATOR, f"job_retry({job})", expected=expected, got=got)

    @rule(job=jobs)
    def cancel(self, job: JobId) -> None:
        expected = _outcome(lambda: self.model.job_cancel(job, now=self.now))
        got = self._store_outcome(lambda: self.store.job_cancel(self._sid(job), now=self.now))
        check(Rule.OPERATOR, f"job_cancel({job})", expected=expected, got=got)

    @rule(job=jobs)
    def delete(self, job: JobId) -> None:
        expected = _outcome(lambda: self.model.job_delete(job))
        got = self._store_outcome(lambda: self.store.job_delete(self._sid(job)))
        check(Rule.OPERATOR, f"job_delete({job})", expected=expected, got=got)

    # --- time and reads ----------------------------------------------------------------------

    @rule(seconds=gen.advances)
    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(
        status=st.one_of(st.none(), st.sampled_from(list(JobStatus))),
        type=st.one_of(st.none(), gen.job_types),
        offset=st.integers(min_value=0, max_value=3),
        limit=st.integers(min_value=1, max_value=4),
    )
    def list_page(
        self, status: JobStatus | None, type: str | None, offset: int, limit: int
    ) -> None:
        want, want_total = self.model.jobs_list(
            status=status, type=type, offset=offset, limit=limit
        )
        have, have_total = self._run(
            self.store.jobs_list(status=status, type=type, offset=offset, limit=limit)
        )
        check(
            Rule.READS,
            f"jobs_list(status={status}, type={type}, offset={offset}, limit={limit})",
            expected=(want, want_total),
            got=([self._as_model_view(j) for j in have], have_total),
        )

    @rule(job=jobs, only_its_type=st.booleans())
    def count_ahead(self, job: JobId, only_its_type: bool) -> None:
        record = self.model.job_get(job)
        types = None if record is None or not only_its_type else [record.type]
        try:
            expected = self.model.jobs_count_ahead(job, now=self.now, types=types)
        except (JobNotFound, ValueError):
            return  # defined for claimable jobs only
        got = self._run(self.store.jobs_count_ahead(self._sid(job), now=self.now, types=types))
        check(Rule.READS, f"jobs_count_ahead({job}, types={types})", expected=expected, got=got)

    @rule()
    def finished_per_minute(self) -> None:
        since = T0 - timedelta(hours=1)
        expected = self.model.jobs_finished_per_minute(since=since, now=self.now)
        got = self._run(self.store.jobs_finished_per_minute(since=since, now=self.now))
        check(Rule.READS, "jobs_finished_per_minute(since=T0-1h)", expected=expected, got=got)

    # --- after every step ----------------------------------------------------------------------

    @invariant()
    def every_job_matches_the_model(self) -> None:
        want, want_total = self.model.jobs_list(limit=10**6)
        have, have_total = self._run(self.store.jobs_list(limit=10**6))
        got = [self._as_model_view(job) for job in have]
        if (got, have_total) != (want, want_total):
            violation(Rule.MODEL, "after the last step", _describe_difference(want, got))

    @invariant()
    def counts_match_the_model(self) -> None:
        check(
            Rule.READS,
            "jobs_count_by_status()",
            expected=self.model.jobs_count_by_status(),
            got=self._run(self.store.jobs_count_by_status()),
        )


async def _open(factory: StoreFactory) -> JobStore:
    return await factory()


def _claim_view(claimed: ClaimedJob) -> tuple[object, ...]:
    return (
        claimed.type,
        claimed.payload,
        claimed.priority,
        claimed.attempts,
        claimed.max_retries,
        claimed.run_at,
        claimed.created_at,
    )


def _describe_difference(want: list[Job], got: list[Job]) -> str:
    """Job by job, field by field: what the model has and what the store has."""
    lines = []
    want_by_id = {job.id: job for job in want}
    got_by_id = {job.id: job for job in got}
    for job_id in sorted(want_by_id.keys() | got_by_id.keys(), key=int):
        w, g = want_by_id.get(job_id), got_by_id.get(job_id)
        if w is None or g is None:
            lines.append(f"job {job_id}: model has {w!r}, store has {g!r}")
            continue
        w_fields, g_fields = asdict(w), asdict(g)
        for name in w_fields:
            if w_fields[name] != g_fields[name]:
                lines.append(
                    f"job {job_id}.{name}: model {w_fields[name]!r}, store {g_fields[name]!r}"
                )
    if not lines:
        lines.append(f"order differs: model {[j.id for j in want]}, store {[j.id for j in got]}")
    return "(job ids are the model's: enqueue order)\n    " + "\n    ".join(lines)


def run_machine(factory: StoreFactory, profile: str = "dev") -> None:
    """Run ``StoreMachine`` against stores from ``factory`` under a suite profile."""
    # Hypothesis accepts any zero-argument factory here; its annotation says a class.
    machine = cast("type[RuleBasedStateMachine]", lambda: StoreMachine(factory))
    run_state_machine_as_test(machine, settings=profile_settings(profile))
