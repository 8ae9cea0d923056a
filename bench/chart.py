"""A bar chart of a run for the docs: W1, W2, W3 jobs/s and W4 latency, one panel each.

The SVG is written by hand (no dependency); a PNG is added when matplotlib is installed.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from bench.records import Results

COLOURS = {"burrow": "#2f7d32", "floor": "#7a7a7a", "peer": "#3d6fb6"}
PANELS = (
    ("W1", "jobs_per_s", "W1 enqueue, jobs/s"),
    ("W2", "jobs_per_s", "W2 batch enqueue, jobs/s"),
    ("W3", "jobs_per_s", "W3 processing, jobs/s"),
    ("W4", "p50_ms", "W4 latency p50, ms (lower is better)"),
)

PANEL_W, ROW_H, LABEL_W, TOP = 460, 20, 120, 30


def _rows(results: Results, workload: str, metric: str) -> list[tuple[str, str, float]]:
    rows = []
    for record in results.records:
        if record.workload == workload and record.status == "ok" and metric in record.metrics:
            rows.append((record.system, record.kind, record.metrics[metric]))
    if workload == "W4":
        for record in results.records:
            if record.workload == "W4-inproc" and record.status == "ok":
                rows.append((f"{record.system} (1 proc)", record.kind, record.metrics[metric]))
    return rows


def svg(results: Results) -> str:
    panels = [(title, _rows(results, w, m)) for w, m, title in PANELS]
    height_of = [TOP + ROW_H * max(1, len(rows)) + 20 for _, rows in panels]
    width = 2 * PANEL_W
    height = max(height_of[0], height_of[1]) + max(height_of[2], height_of[3])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for index, (title, rows) in enumerate(panels):
        x0 = (index % 2) * PANEL_W
        y0 = 0 if index < 2 else max(height_of[0], height_of[1])
        out.append(f'<text x="{x0 + 10}" y="{y0 + 18}" font-weight="bold">{escape(title)}</text>')
        top = max((value for _, _, value in rows), default=1.0) or 1.0
        bar_room = PANEL_W - LABEL_W - 80
        for row, (system, kind, value) in enumerate(rows):
            y = y0 + TOP + row * ROW_H
            w = max(1.0, bar_room * value / top)
            colour = COLOURS.get(kind, "#999999")
            out.append(
                f'<text x="{x0 + LABEL_W - 6}" y="{y + 13}" text-anchor="end">'
                f"{escape(system)}</text>"
            )
            out.append(
                f'<rect x="{x0 + LABEL_W}" y="{y + 3}" width="{w:.1f}" '
                f'height="{ROW_H - 6}" fill="{colour}"/>'
            )
            label = f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
            out.append(f'<text x="{x0 + LABEL_W + w + 4:.1f}" y="{y + 13}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def png(results: Results, path: Path) -> bool:
    """Draw the PNG with matplotlib; False when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5))
    for ax, (workload, metric, title) in zip(axes.flat, PANELS, strict=True):
        rows = _rows(results, workload, metric)
        names = [r[0] for r in rows][::-1]
        values = [r[2] for r in rows][::-1]
        colours = [COLOURS.get(r[1], "#999999") for r in rows][::-1]
        bars = ax.barh(names, values, color=colours)
        ax.bar_label(
            bars,
            labels=[f"{v:,.1f}" if v < 100 else f"{v:,.0f}" for v in values],
            padding=3,
            fontsize=8,
        )
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.margins(x=0.2)
    fig.suptitle(
        f"burrow bench, {results.meta.get('started', '')} ({results.meta.get('mode', '')})",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
