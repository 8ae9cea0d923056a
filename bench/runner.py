"""Runs the plan: every workload on every selected system, repeats interleaved.

Repeats go round the systems (W1 on all, then W1 again on all, ...), and round the
workloads of one family (W4 across processes and in process; W5 with 1, 2 and 4 processes),
so a burst of load from the other processes on this shared machine spreads over every
system instead of landing on one. Each measurement gets a fresh database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench import systems, workloads
from bench.records import Metrics, Record
from bench.settings import Sizes
from bench.systems import NoBulkApi, System, SystemUnavailable
from bench.targets import Target, drop_orphans, fresh, postgres_reachable

Run = Coroutine[Any, Any, Metrics]
Measure = Callable[[type[System], Target], Run]


@dataclasses.dataclass(frozen=True)
class Step:
    workload: str
    measure: Measure
    repeats: int


def steps_for(
    cls: type[System], sizes: Sizes, log_dir: Path, scale_systems: frozenset[str]
) -> list[Step]:
    """The workloads that apply to ``cls``, in table order."""

    def w1(c: type[System], t: Target) -> Run:
        return workloads.enqueue(c, t, sizes)

    def w2(c: type[System], t: Target) -> Run:
        return workloads.batch(c, t, sizes)

    def w3(c: type[System], t: Target) -> Run:
        return workloads.process(c, t, sizes, log_dir, jobs=sizes.process_jobs)

    def w4(c: type[System], t: Target) -> Run:
        return workloads.latency(c, t, sizes, log_dir)

    def w4_inproc(c: type[System], t: Target) -> Run:
        return workloads.latency(c, t, sizes, log_dir, in_process=True)

    def w5(processes: int) -> Measure:
        def measure(c: type[System], t: Target) -> Run:
            return workloads.process(
                c, t, sizes, log_dir, jobs=sizes.process_jobs, processes=processes
            )

        return measure

    def w6(c: type[System], t: Target) -> Run:
        return workloads.process(
            c,
            t,
            sizes,
            log_dir,
            jobs=sizes.footprint_jobs,
            rss_checkpoint=sizes.footprint_checkpoint,
        )

    repeats, short = sizes.repeats, sizes.short_repeats
    plan = [Step("W1", w1, short), Step("W2", w2, short), Step("W3", w3, repeats)]
    if cls.latency_cross_process:
        plan.append(Step("W4", w4, short))
    if cls.latency_in_process:
        plan.append(Step("W4-inproc", w4_inproc, short))
    if cls.database == "postgresql" and cls.name in scale_systems:
        plan += [Step(f"W5-{n}", w5(n), sizes.scale_repeats) for n in sizes.scale_processes]
    if cls.kind == "burrow":
        plan.append(Step("W6", w6, 1))
    return plan


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _headline(workload: str, metrics: Metrics) -> str:
    if "p50_ms" in metrics:
        return (
            f"p50 {metrics['p50_ms']:.1f} / p95 {metrics['p95_ms']:.1f} / "
            f"p99 {metrics['p99_ms']:.1f} ms, idle CPU {metrics['idle_cpu_pct']:.1f}%"
        )
    text = f"{metrics['jobs_per_s']:,.0f} jobs/s"
    if "rss_growth_pct" in metrics:
        text += f", RSS {metrics['rss_checkpoint_mb']:.1f} -> {metrics['rss_end_mb']:.1f} MB"
    if "transactions_per_job" in metrics:
        text += f", {metrics['transactions_per_job']:.2f} xact/job"
    if "pg_cpu_pct" in metrics:
        text += (
            f", worker CPU {metrics['worker_cpu_pct']:.0f}%, PG CPU {metrics['pg_cpu_pct']:.0f}%"
        )
    return text


def _families(order: list[str]) -> list[list[str]]:
    """Workloads grouped by family (``W4`` with ``W4-inproc``, ``W5-1`` with ``W5-2``...),
    in ``order``: the repeats of one family go round all its workloads, so a burst of outside
    load lands on one repeat of each instead of on every repeat of one."""
    families: dict[str, list[str]] = {}
    for workload in order:
        families.setdefault(workload.split("-")[0], []).append(workload)
    return list(families.values())


def run(
    names: list[str],
    sizes: Sizes,
    log_dir: Path,
    scale_systems: frozenset[str],
    workload_filter: frozenset[str] | None = None,
    checkpoint: Callable[[list[Record]], None] | None = None,
) -> list[Record]:
    """Measure; ``checkpoint(records)`` is called after every measurement so a run cut
    short still leaves what it measured."""
    records: list[Record] = []
    loaded: dict[str, type[System]] = {}
    pg_ok = postgres_reachable()
    if pg_ok:
        for orphan in drop_orphans():
            _say(f"dropped {orphan}, left by a harness that died")
    for name in names:
        try:
            cls = systems.load(name)
        except SystemUnavailable as exc:
            _say(f"{name}: {exc}")
            records.append(Record(name, "", "", "", "*", "not installed", note=str(exc)))
            continue
        if cls.database == "postgresql" and not pg_ok:
            note = "PostgreSQL is not reachable"
            _say(f"{name}: {note}")
            records.append(
                Record(name, cls.database, cls.kind, cls.settings, "*", "unavailable", note=note)
            )
            continue
        loaded[name] = cls

    plans = {name: steps_for(cls, sizes, log_dir, scale_systems) for name, cls in loaded.items()}
    order: list[str] = []
    for plan in plans.values():
        for step in plan:
            if step.workload not in order and (
                workload_filter is None or step.workload.split("-")[0] in workload_filter
            ):
                order.append(step.workload)
    by_key: dict[tuple[str, str], Record] = {}
    for family in _families(order):
        max_repeats = max(s.repeats for p in plans.values() for s in p if s.workload in family)
        for repeat in range(max_repeats):
            for workload, (name, cls) in itertools.product(family, loaded.items()):
                found = next((s for s in plans[name] if s.workload == workload), None)
                if found is None or repeat >= found.repeats:
                    continue
                step = found
                key = (name, workload)
                record = by_key.get(key)
                if record is None:
                    record = Record(name, cls.database, cls.kind, cls.settings, workload, "ok")
                    by_key[key] = record
                    records.append(record)
                if record.status != "ok":
                    continue  # "none" or two failures: repeating would say the same
                label = f"{name:>14} {workload:<9} run {repeat + 1}/{step.repeats}"
                started = time.monotonic()
                metrics = None
                # One retry: other processes on this shared machine can disturb a run
                # (a killed connection, a full disk cache); a second failure is the system's.
                for attempt in (1, 2):
                    try:
                        with fresh(cls.database, name) as target:
                            metrics = asyncio.run(step.measure(cls, target))
                        break
                    except NoBulkApi:
                        record.status = "none"
                        record.note = "no bulk enqueue API"
                        _say(f"{label}: none (no bulk API)")
                        break
                    except Exception as exc:
                        error = f"{type(exc).__name__}: {exc}".strip()[:2000]
                        _say(f"{label}: ERROR (try {attempt} of 2) {error}")
                        traceback.print_exc(file=sys.stderr)
                        record.note = (record.note + "\n" if record.note else "") + error
                if metrics is None:
                    if record.status == "ok":
                        record.status = "error"
                    continue
                record.runs.append(metrics)
                took = time.monotonic() - started
                _say(f"{label}: {_headline(workload, metrics)}  ({took:.1f} s)")
                if checkpoint is not None:
                    checkpoint(records)
    return records
