"""Capability ``transactional_enqueue``: ``jobs_insert(using=...)`` joins the app's transaction.

The backend provides the ``burrow_transaction`` fixture (see ``TransactionFactory``): given
the store under test, an async context manager that opens a transaction of the app's on the
same database and yields its ``TransactionControl`` (``using``, ``commit()``,
``rollback()``); leaving the block without committing rolls back.
"""

from __future__ import annotations

import pytest

from burrow_conformance._assertions import Rule, check, check_fields, violation
from burrow_conformance._harness import Session, TransactionFactory, store_test
from burrow_conformance.requirements import requires, requires_absent
from burrow_tasks.errors import NotSupported
from burrow_tasks.types import Capability, JobStatus

__all__ = ["TransactionalEnqueueTests"]


def _transaction(s: Session) -> TransactionFactory:
    if s.harness.transaction is None:
        violation(
            Rule.TRANSACTIONAL,
            "the burrow_transaction fixture",
            "the store declares transactional_enqueue, but no burrow_transaction fixture "
            "is defined, so the suite cannot check it: define one (see the README)",
        )
    return s.harness.transaction


class TransactionalEnqueueTests:
    """Inserts inside the app's own transaction."""

    @requires(Capability.TRANSACTIONAL_ENQUEUE)
    @store_test
    async def test_insert_using_a_transaction_is_visible_after_commit(self, s: Session) -> None:
        async with _transaction(s)(s.store) as tx:
            [job_id] = await s.store.jobs_insert([s.new_job()], now=s.now, using=tx.using)
            await tx.commit()
        check_fields(
            Rule.TRANSACTIONAL,
            "jobs_insert(using=tx) then commit",
            await s.store.job_get(job_id),
            status=JobStatus.PENDING,
        )
        check(
            Rule.TRANSACTIONAL,
            "jobs_claim after commit",
            expected=[job_id],
            got=await s.claim_ids(),
        )

    @requires(Capability.TRANSACTIONAL_ENQUEUE)
    @store_test
    async def test_insert_using_a_transaction_is_invisible_before_commit(self, s: Session) -> None:
        async with _transaction(s)(s.store) as tx:
            [job_id] = await s.store.jobs_insert([s.new_job()], now=s.now, using=tx.using)
            # reads only: a claim would wait for the app's write lock on some databases
            seen = (await s.store.job_get(job_id), await s.statuses())
            check(
                Rule.TRANSACTIONAL,
                "job_get/jobs_count_by_status before the app commits",
                expected=(None, {}),
                got=seen,
            )
            await tx.commit()

    @requires(Capability.TRANSACTIONAL_ENQUEUE)
    @store_test
    async def test_insert_using_a_rolled_back_transaction_leaves_nothing(self, s: Session) -> None:
        async with _transaction(s)(s.store) as tx:
            ids = await s.store.jobs_insert([s.new_job(), s.new_job()], now=s.now, using=tx.using)
            await tx.rollback()
        check(
            Rule.TRANSACTIONAL,
            "job_get after rollback",
            expected=None,
            got=await s.store.job_get(ids[0]),
        )
        check(
            Rule.TRANSACTIONAL,
            "jobs_count_by_status after rollback",
            expected={},
            got=await s.statuses(),
        )

    @requires_absent(Capability.TRANSACTIONAL_ENQUEUE)
    @store_test
    async def test_insert_using_without_the_capability_raises_not_supported(
        self, s: Session
    ) -> None:
        with pytest.raises(NotSupported):
            await s.store.jobs_insert([s.new_job()], now=s.now, using=object())
        check(
            Rule.TRANSACTIONAL,
            "a refused jobs_insert(using=...)",
            expected={},
            got=await s.statuses(),
        )
