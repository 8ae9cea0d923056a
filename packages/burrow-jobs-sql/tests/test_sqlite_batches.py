"""SQLite batch inserts: one statement per run of alike jobs, payloads through json_each,
each row exactly as given and in input order. SQLite only, whatever ``--burrow-db`` says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from burrow_jobs_sql import SQLStore
from burrow_jobs_sql.sqlite_batches import RUN_CHARS, uniform_runs
from burrow_tasks.jobs import NewJob

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)

AWKWARD_PAYLOADS = [
    '{ "spaced" : [ 1 , 2.50 , 1e3 ] }',
    '"quote \\" backslash \\\\ slash \\/ tab \\t"',
    '"\\u00e9 and é, \\ud83d\\ude00 and 😀"',
    '"line separator \u2028 and escaped \\u2028"',
    '{"nested":{"array":[[],{},null,true,false]}}',
    "0",
    '""',
]


def job(payload: str = "{}", **changes: object) -> NewJob:
    values: dict[str, object] = {
        "type": "t",
        "payload": payload,
        "priority": 0,
        "max_retries": 3,
        "run_at": NOW,
    }
    values.update(changes)
    return NewJob(**values)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    opened = SQLStore.from_dsn(f"sqlite:///{tmp_path / 'batches.db'}")
    yield opened
    await opened.close()


def test_alike_jobs_make_one_run() -> None:
    runs = list(uniform_runs([job("1"), job("2"), job("3")]))

    assert [payloads for _, payloads in runs] == [["1", "2", "3"]]


@pytest.mark.parametrize(
    "change",
    [
        {"type": "other"},
        {"priority": 5},
        {"max_retries": 1},
        {"run_at": NOW + timedelta(seconds=1)},
    ],
)
def test_a_job_unlike_the_one_before_starts_a_run(change: dict[str, object]) -> None:
    runs = list(uniform_runs([job("1"), job("2", **change), job("3")]))

    assert [payloads for _, payloads in runs] == [["1"], ["2"], ["3"]]


def test_a_run_ends_before_its_payloads_pass_the_size_limit() -> None:
    big = "1" * (RUN_CHARS // 2)
    runs = list(uniform_runs([job(big), job(big), job(big)]))

    assert [len(payloads) for _, payloads in runs] == [2, 1]


def test_a_payload_longer_than_the_limit_makes_a_run_of_its_own() -> None:
    huge = "1" * (RUN_CHARS + 1)
    runs = list(uniform_runs([job("1"), job(huge), job("2")]))

    assert [len(payloads) for _, payloads in runs] == [1, 1, 1]


async def test_a_batch_stores_every_payload_byte_for_byte(store: SQLStore) -> None:
    ids = await store.jobs_insert([job(p) for p in AWKWARD_PAYLOADS], now=NOW)

    stored = [await store.job_get(job_id) for job_id in ids]
    assert [j.payload for j in stored if j is not None] == AWKWARD_PAYLOADS


async def test_a_mixed_batch_keeps_input_order_and_each_row_its_own_values(
    store: SQLStore,
) -> None:
    later = NOW + timedelta(hours=1)
    new = [
        job("1"),
        job("2", type="other", priority=7),
        job("3", run_at=later, max_retries=1),
        job("4"),
    ]

    ids = await store.jobs_insert(new, now=NOW)

    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    stored = [await store.job_get(job_id) for job_id in ids]
    assert [(j.payload, j.type, j.priority, j.max_retries, j.run_at) for j in stored if j] == [
        (n.payload, n.type, n.priority, n.max_retries, n.run_at) for n in new
    ]


async def test_a_row_sqlite_cannot_take_leaves_nothing_of_the_batch(store: SQLStore) -> None:
    # Another type (one UTF-8 cannot encode, which only the driver notices): the good job's
    # run is inserted first, and must be rolled back.
    with pytest.raises(UnicodeEncodeError):
        await store.jobs_insert([job("1"), job("2", type="other \ud800")], now=NOW)

    counts = await store.jobs_count_by_status()
    assert sum(counts.values()) == 0
