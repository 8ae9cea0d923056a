"""Markdown tables of a run: absolute figures, ratios, scaling, footprint and targets."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from bench.records import THROUGHPUT, Record, Results

BURROW_FOR = {"postgresql": "burrow-pg", "sqlite": "burrow-sqlite", "memory": "burrow-memory"}
FLOOR_FOR = {"postgresql": "raw-pg", "sqlite": "raw-sqlite"}
PEERS = ("pgqueuer", "oban", "procrastinate", "huey")

WORKLOAD_TITLES = {
    "W1": "W1 enqueue/s",
    "W2": "W2 batch/s",
    "W3": "W3 process/s",
    "W4": "W4 p50 / p95 / p99 ms",
    "W4-inproc": "W4 in-process p50 / p95 / p99 ms",
}


def _systems(results: Results) -> list[Record]:
    """One representative record per system, in run order."""
    seen: dict[str, Record] = {}
    for record in results.records:
        seen.setdefault(record.system, record)
    return list(seen.values())


def _cell(results: Results, system: str, workload: str) -> str:
    record = results.find(system, workload)
    if record is None:
        star = results.find(system, "*")
        return star.status if star else "-"
    if record.status != "ok":
        return record.status
    m = record.metrics
    if workload.startswith("W4"):
        return f"{m['p50_ms']:.1f} / {m['p95_ms']:.1f} / {m['p99_ms']:.1f}"
    return f"{m['jobs_per_s']:,.0f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "-"
    return f"{value / base:.2f}x"


def main_table(results: Results) -> str:
    workloads = ["W1", "W2", "W3", "W4", "W4-inproc"]
    head = [
        "system",
        "database",
        *[WORKLOAD_TITLES[w] for w in workloads],
        "W4 idle CPU %",
        "settings",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for rep in _systems(results):
        idle = results.value(rep.system, "W4", "idle_cpu_pct")
        if idle is None:
            idle = results.value(rep.system, "W4-inproc", "idle_cpu_pct")
        row = [
            rep.system,
            rep.database or "-",
            *[_cell(results, rep.system, w) for w in workloads],
            f"{idle:.1f}" if idle is not None else "-",
            rep.settings or rep.note,
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def ratio_table(results: Results) -> str:
    """Each system's jobs/s over its database's raw floor and over burrow on that database."""
    head = ["system"]
    for w in THROUGHPUT:
        head += [f"{w} ÷ floor", f"{w} ÷ burrow"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for rep in _systems(results):
        if rep.status not in ("ok", "none", "error"):
            continue
        floor = FLOOR_FOR.get(rep.database)
        burrow = BURROW_FOR.get(rep.database)
        row = [rep.system]
        for w in THROUGHPUT:
            value = results.value(rep.system, w, "jobs_per_s")
            row.append(_ratio(value, results.value(floor, w, "jobs_per_s")) if floor else "-")
            row.append(_ratio(value, results.value(burrow, w, "jobs_per_s")) if burrow else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _num(metrics: dict[str, float], key: str, fmt: str) -> str:
    return format(metrics[key], fmt) if key in metrics else "-"


COST_HEAD = [
    "worker CPU % (of one core)",
    "PostgreSQL CPU %",
    "worker CPU µs/job",
    "PostgreSQL CPU µs/job",
    "worker off-CPU %",
    "transactions/job",
]


def _cost_cells(m: dict[str, float]) -> list[str]:
    return [
        _num(m, "worker_cpu_pct", ".0f"),
        _num(m, "pg_cpu_pct", ".0f"),
        _num(m, "worker_cpu_us_per_job", ".0f"),
        _num(m, "pg_cpu_us_per_job", ".0f"),
        _num(m, "idle_pct_of_workers", ".0f"),
        _num(m, "transactions_per_job", ".2f"),
    ]


def cost_table(results: Results) -> str:
    """W3's cost per job: where each system's time goes."""
    head = ["system", "W3 jobs/s", *COST_HEAD]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for record in results.records:
        if record.workload != "W3" or record.status != "ok":
            continue
        m = record.metrics
        cells = [record.system, f"{m['jobs_per_s']:,.0f}", *_cost_cells(m)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scale_table(results: Results) -> str:
    head = ["system", "worker processes", "jobs/s", "vs 1 process", *COST_HEAD]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for record in results.records:
        if not record.workload.startswith("W5-") or record.status != "ok":
            continue
        m = record.metrics
        one = results.value(record.system, "W5-1", "jobs_per_s")
        cells = [
            record.system,
            record.workload.split("-")[1],
            f"{m['jobs_per_s']:,.0f}",
            _ratio(m["jobs_per_s"], one),
            *_cost_cells(m),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def footprint_table(results: Results) -> str:
    checkpoint = results.meta.get("sizes", {}).get("footprint_checkpoint", "checkpoint")
    jobs = results.meta.get("sizes", {}).get("footprint_jobs", "end")
    head = [
        "system",
        "RSS at start MB",
        f"RSS at job {checkpoint} MB",
        f"RSS at job {jobs} MB",
        "growth %",
        "jobs/s",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for record in results.records:
        if record.workload != "W6" or record.status != "ok":
            continue
        m = record.metrics
        lines.append(
            f"| {record.system} | {m['rss_start_mb']:.1f} | {m['rss_checkpoint_mb']:.1f} | "
            f"{m['rss_end_mb']:.1f} | {m['rss_growth_pct']:+.1f} | {m['jobs_per_s']:,.0f} |"
        )
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Target:
    text: str
    check: Callable[[Results], tuple[str, bool | None]]
    """Returns what was measured and whether the target is met (None: cannot tell)."""


def _jobs(results: Results, system: str, workload: str) -> float | None:
    return results.value(system, workload, "jobs_per_s")


def _at_least(
    system: str, workload: str, other: str, factor: float
) -> Callable[[Results], tuple[str, bool | None]]:
    def check(results: Results) -> tuple[str, bool | None]:
        mine, theirs = _jobs(results, system, workload), _jobs(results, other, workload)
        if mine is None or theirs is None:
            missing = [name for name, v in ((system, mine), (other, theirs)) if v is None]
            return ("not measured: " + ", ".join(missing), None)
        ratio = mine / theirs
        return (f"{mine:,.0f} vs {theirs:,.0f} = {ratio:.2f}x", ratio >= factor)

    return check


def _latency(
    system: str, workload: str, p50: float, p99: float, against_peers: bool
) -> Callable[[Results], tuple[str, bool | None]]:
    def check(results: Results) -> tuple[str, bool | None]:
        mine50 = results.value(system, workload, "p50_ms")
        mine99 = results.value(system, workload, "p99_ms")
        if mine50 is None or mine99 is None:
            return ("not measured", None)
        ok = mine50 <= p50 and mine99 <= p99
        text = f"p50 {mine50:.1f} ms, p99 {mine99:.1f} ms"
        if against_peers:
            beaten = []
            for peer in PEERS:
                peer50 = results.value(peer, "W4", "p50_ms")
                peer99 = results.value(peer, "W4", "p99_ms")
                if peer50 is None or peer99 is None:
                    continue
                if not (mine50 < peer50 and mine99 < peer99):
                    beaten.append(peer)
            if beaten:
                text += "; not ahead of " + ", ".join(beaten)
                ok = False
        return (text, ok)

    return check


def _idle_sqlite(results: Results) -> tuple[str, bool | None]:
    p50 = results.value("burrow-sqlite", "W4", "p50_ms")
    idle = results.value("burrow-sqlite", "W4", "idle_cpu_pct")
    if p50 is None or idle is None:
        return ("not measured", None)
    return (f"p50 {p50:.1f} ms, idle worker CPU {idle:.1f}%", p50 <= 15 and idle < 2)


def _scale(results: Results) -> tuple[str, bool | None]:
    one = _jobs(results, "burrow-pg", "W5-1")
    counts = sorted(
        int(r.workload.split("-")[1])
        for r in results.records
        if r.system == "burrow-pg" and r.workload.startswith("W5-") and r.status == "ok"
    )
    if one is None or not counts or counts[-1] == 1:
        return ("not measured", None)
    most = _jobs(results, "burrow-pg", f"W5-{counts[-1]}")
    assert most is not None
    return (
        f"{counts[-1]} processes {most:,.0f} vs 1 process {one:,.0f} = {most / one:.2f}x",
        most / one >= 0.9,
    )


def _footprint(system: str) -> Callable[[Results], tuple[str, bool | None]]:
    def check(results: Results) -> tuple[str, bool | None]:
        growth = results.value(system, "W6", "rss_growth_pct")
        if growth is None:
            return ("not measured", None)
        return (f"{growth:+.1f}%", growth < 10)

    return check


TARGETS = [
    Target("PostgreSQL W3 ≥ 3x pgqueuer", _at_least("burrow-pg", "W3", "pgqueuer", 3.0)),
    Target("SQLite W3 ≥ 5x huey", _at_least("burrow-sqlite", "W3", "huey", 5.0)),
    Target("SQLite W3 ≥ 40% of the floor", _at_least("burrow-sqlite", "W3", "raw-sqlite", 0.4)),
    Target("PostgreSQL W1 ≥ 70% of the floor", _at_least("burrow-pg", "W1", "raw-pg", 0.7)),
    Target("SQLite W1 ≥ 70% of the floor", _at_least("burrow-sqlite", "W1", "raw-sqlite", 0.7)),
    Target("PostgreSQL W2 ≥ 50% of the floor", _at_least("burrow-pg", "W2", "raw-pg", 0.5)),
    Target("SQLite W2 ≥ 50% of the floor", _at_least("burrow-sqlite", "W2", "raw-sqlite", 0.5)),
    Target("PostgreSQL W2 ≥ 1.2x pgqueuer", _at_least("burrow-pg", "W2", "pgqueuer", 1.2)),
    Target(
        "PostgreSQL W4 p50 ≤ 4 ms, p99 ≤ 10 ms, ahead of every peer",
        _latency("burrow-pg", "W4", 4, 10, True),
    ),
    Target(
        "SQLite in-process W4 p50 ≤ 4 ms, p99 ≤ 10 ms, ahead of every peer",
        _latency("burrow-sqlite", "W4-inproc", 4, 10, True),
    ),
    Target("SQLite across processes W4 p50 ≤ 15 ms, idle worker < 2% of a core", _idle_sqlite),
    Target("W5: 4 processes ≥ 0.9x one (PostgreSQL)", _scale),
    Target("W6 memory: RSS growth < 10%", _footprint("burrow-memory")),
    Target("W6 SQLite: RSS growth < 10%", _footprint("burrow-sqlite")),
    Target("W6 PostgreSQL: RSS growth < 10%", _footprint("burrow-pg")),
]


def targets_table(results: Results) -> str:
    lines = ["| target (issue 5) | measured | met |", "| --- | --- | --- |"]
    for target in TARGETS:
        measured, ok = target.check(results)
        verdict = "yes" if ok else ("**no**" if ok is False else "-")
        lines.append(f"| {target.text} | {measured} | {verdict} |")
    return "\n".join(lines)


def _medians(meta: dict[str, Any]) -> str:
    sizes = meta.get("sizes", {})
    repeats, short = sizes.get("repeats", "?"), sizes.get("short_repeats")
    scale = sizes.get("scale_repeats", repeats)  # runs saved before W5 had its own: W3's
    if short is None or short == repeats == scale:  # runs saved before W1, W2, W4 had theirs
        return f"median of {repeats}"
    if scale == short:
        return f"median of {short} for W1, W2, W4 and W5, of {repeats} for W3"
    return f"median of {short} for W1, W2 and W4, of {repeats} for W3 and W5"


def render(results: Results) -> str:
    meta = results.meta
    parts = [
        f"Run {meta.get('started', '?')} ({meta.get('mode', '?')}, {_medians(meta)}), "
        f"concurrency {meta.get('sizes', {}).get('concurrency', '?')}.",
        "",
        main_table(results),
        "",
        "Ratios (jobs/s of the row's system over the floor / over burrow on the same database):",
        "",
        ratio_table(results),
    ]
    parts += ["", "W3 cost per job (where the time goes):", "", cost_table(results)]
    scale = scale_table(results)
    if scale.count("\n") > 1:
        parts += ["", "W5 scale (PostgreSQL):", "", scale]
    footprint = footprint_table(results)
    if footprint.count("\n") > 1:
        parts += ["", "W6 footprint (one run each):", "", footprint]
    parts += ["", "Targets:", "", targets_table(results)]
    return "\n".join(parts)


def describe_run(results: Results, json_name: str) -> str:
    """The run's provenance for the README: command, commit, machine, versions, load."""
    meta = results.meta
    machine = meta.get("machine", {})
    packages = ", ".join(f"{k} {v}" for k, v in machine.get("packages", {}).items())
    load_start = machine.get("load_average_at_start", [0.0])[0]
    load_end = meta.get("load_average_at_end", [0.0])[0]
    return "\n".join(
        [
            f"Run `{meta.get('started')}`: `{meta.get('command')}` "
            f"({meta.get('seconds', 0):.0f} s), saved as `results/{json_name}`.",
            f"burrow at commit `{machine.get('git_commit')}`"
            + (
                " plus uncommitted changes to `packages/` in the tree"
                if machine.get("packages_uncommitted_changes")
                else ""
            )
            + ".",
            f"Machine: {machine.get('nproc')} cores ({machine.get('cpu')}), "
            f"{machine.get('memory_gib')} GiB, {machine.get('os')}; Python "
            f"{machine.get('python')}; PostgreSQL {machine.get('postgresql')}, stock settings; "
            f"SQLite {machine.get('sqlite')}.",
            f"Packages: {packages}.",
            f"Load average at start {load_start:.1f}, at end {load_end:.1f} (other developers' "
            "tests share the machine).",
            "",
            "![W1-W4 per system](results/chart.svg)",
        ]
    )
