"""``python -m bench [--quick] [--systems a,b] [--workloads W1,W3] [--repeats N]``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import chart, machine, report, runner, systems
from bench.records import Record, Results
from bench.settings import FULL, QUICK

RESULTS_DIR = Path(__file__).resolve().parent / "results"

QUICK_SCALE = frozenset({"raw-pg", "burrow-pg"})
FULL_SCALE = frozenset({"raw-pg", "burrow-pg", "pgqueuer"})
WORKLOADS = frozenset({"W1", "W2", "W3", "W4", "W5", "W6"})


def _names(text: str, known: tuple[str, ...] | frozenset[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(
            f"unknown {what}: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return names


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="burrow's benchmark: W1-W6 of issue 5 on burrow, its peers and raw SQL.",
    )
    parser.add_argument("--quick", action="store_true", help="small counts, one repeat (< 2 min)")
    parser.add_argument("--systems", default=",".join(systems.ALL), help="comma-separated systems")
    parser.add_argument("--workloads", default=",".join(sorted(WORKLOADS)), help="e.g. W1,W3")
    parser.add_argument("--repeats", type=int, default=0, help="override the repeat count")
    parser.add_argument(
        "--scale-systems",
        default="",
        help="PostgreSQL systems W5 runs on (default: floor, burrow and, in a full run, pgqueuer)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where JSON and charts go")
    parser.add_argument(
        "--render", type=Path, default=None, help="re-render a saved JSON: tables and chart"
    )
    parser.add_argument(
        "--readme", action="store_true", help="with --render: rewrite bench/README.md's results"
    )
    parser.add_argument(
        "--no-save", action="store_true", help="print the report only; write no JSON or chart"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep worker logs and probe files")
    return parser.parse_args(argv)


README = Path(__file__).resolve().parent / "README.md"
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def render(path: Path, into_readme: bool) -> int:
    """Print a saved run's report and redraw its chart beside the JSON; with
    ``into_readme`` also replace the results block of bench/README.md."""
    results = Results.from_json(json.loads(path.read_text()))
    text = report.render(results)
    print(text)
    suffix = "" if results.meta.get("mode") == "full" else "-quick"
    (path.parent / f"chart{suffix}.svg").write_text(chart.svg(results))
    chart.png(results, path.parent / f"chart{suffix}.png")
    if into_readme:
        readme = README.read_text()
        head, _, rest = readme.partition(README_START)
        _, _, tail = rest.partition(README_END)
        block = "\n".join(
            [README_START, "", report.describe_run(results, path.name), "", text, "", README_END]
        )
        README.write_text(head + block + tail)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render is not None:
        return render(args.render, args.readme)
    sizes = QUICK if args.quick else FULL
    if args.repeats:
        if args.repeats < 1:
            raise SystemExit("--repeats must be at least 1")
        sizes = dataclasses.replace(
            sizes, repeats=args.repeats, short_repeats=args.repeats, scale_repeats=args.repeats
        )
    names = _names(args.systems, systems.ALL, "system")
    workloads = frozenset(_names(args.workloads, WORKLOADS, "workload"))
    scale = (
        frozenset(_names(args.scale_systems, systems.ALL, "system"))
        if args.scale_systems
        else (QUICK_SCALE if args.quick else FULL_SCALE)
    )
    mode = "quick" if args.quick else "full"
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    log_dir = Path(tempfile.mkdtemp(prefix="burrow-bench-"))
    meta: dict[str, Any] = {
        "started": started,
        "mode": mode,
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "sizes": dataclasses.asdict(sizes),
        "systems": names,
        "scale_systems": sorted(scale),
        "machine": machine.describe(),
        "caveat": "2 cores shared with other processes (tests of other developers may run); "
        "only ratios measured in the same run are meaningful",
    }
    begin = time.monotonic()
    stamp = started.replace(":", "").replace("-", "")
    partial = args.out / f"{mode}-{stamp}.partial.json"

    def checkpoint(so_far: list[Record]) -> None:
        if not args.no_save:
            args.out.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(Results(meta, so_far).to_json(), indent=1) + "\n")

    try:
        records = runner.run(names, sizes, log_dir, scale, workloads, checkpoint)
    finally:
        if args.keep_logs:
            print(f"worker logs kept in {log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(log_dir, ignore_errors=True)
    meta["seconds"] = round(time.monotonic() - begin, 1)
    meta["load_average_at_end"] = list(os.getloadavg())
    results = Results(meta=meta, records=records)

    print(report.render(results))
    if args.no_save:
        print(f"\nnothing saved (--no-save); {meta['seconds']} s", file=sys.stderr)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        json_path = args.out / f"{mode}-{stamp}.json"
        json_path.write_text(json.dumps(results.to_json(), indent=1) + "\n")
        suffix = "" if mode == "full" else "-quick"
        (args.out / f"chart{suffix}.svg").write_text(chart.svg(results))
        drew_png = chart.png(results, args.out / f"chart{suffix}.png")
        print(
            f"\nsaved {json_path}, chart{suffix}.svg{' and .png' if drew_png else ''} "
            f"in {args.out} ({meta['seconds']} s)",
            file=sys.stderr,
        )
    failed = [r for r in records if r.status == "error"]
    return 1 if failed else 0
