"""Assertion helpers whose failures say which rule broke, on which operation, expected vs got.

A backend author reading a red test should not need to open the suite's source: the message
names the DESIGN §4 rule, the store call that broke it and the difference.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any, NoReturn

from burrow_tasks.jobs import Job

__all__ = ["Rule", "StoreRuleViolation", "check", "check_fields", "violation"]


class Rule(StrEnum):
    """The rules of DESIGN §4 (and the interface's other promises), as failures name them."""

    INSERT = "insert: rows start pending with the given fields (store.jobs_insert)"
    CLAIM_ORDER = "rule 1, claim order"
    CLAIM_EXCLUSIVE = "rule 2, a claim is exclusive and sets running/attempts/lease"
    LEASE_FRESH = "rule 2, every claim gets a fresh lease, never reused"
    LEASE_GUARD = "rule 3, lease guard"
    HEARTBEAT = "rule 3, heartbeat"
    COMPLETE = "rule 3, complete"
    FAIL = "rule 4, fail"
    BATCH = "rule 5, batch insert is all or nothing"
    RESCUE = "rule 6, rescue"
    RELEASE = "rule 6, release"
    CLEANUP = "rule 7, cleanup deletes old completed jobs only"
    OPERATOR = "rule 8, operator actions check the status in the same write"
    TIME = "rule 9, time comes from the caller (aware UTC, microsecond precision)"
    PAYLOAD = "payload and result are stored byte for byte"
    READS = "reads (job_get, jobs_list, counts)"
    WORKERS = "workers (worker_beat, workers_list)"
    NOTIFY = "capability notify"
    TRANSACTIONAL = "capability transactional_enqueue"
    ISOLATION = "the burrow_store factory returns a new, empty store"
    CONCURRENCY = "rule 2, claims stay exclusive under concurrency"
    MODEL = "the store agrees with the reference model"
    ENGINE = "the engine runs jobs on this store as DESIGN §4/§5 say"


class StoreRuleViolation(AssertionError):
    """A store broke a rule of the interface. The message says which, where and how."""


def violation(rule: Rule, operation: str, detail: str) -> NoReturn:
    __tracebackhide__ = True
    raise StoreRuleViolation(f"{rule.value}\n  broken by: {operation}\n  {detail}")


def check(rule: Rule, operation: str, *, expected: object, got: object) -> None:
    """Fail naming ``rule`` and ``operation`` unless ``got == expected``."""
    __tracebackhide__ = True
    if got != expected:
        violation(rule, operation, f"expected: {expected!r}\n       got: {got!r}")


def check_fields(rule: Rule, operation: str, job: Job | None, **expected: Any) -> Job:
    """Fail unless ``job`` exists and each named field has the expected value.

    Lists every differing field, so one run shows the whole difference.
    """
    __tracebackhide__ = True
    if job is None:
        violation(rule, operation, "expected the job to exist, but job_get returned None")
    got = dataclasses.asdict(job)
    unknown = sorted(set(expected) - set(got))
    if unknown:
        raise TypeError(f"check_fields: Job has no field(s) {unknown}")
    wrong = {name: (value, got[name]) for name, value in expected.items() if got[name] != value}
    if wrong:
        lines = [f"{name}: expected {want!r}, got {have!r}" for name, (want, have) in wrong.items()]
        violation(rule, operation, "job " + repr(job.id) + "\n    " + "\n    ".join(lines))
    return job
