"""The dashboard: status counts, worker pools and the last hour's throughput."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from burrow_admin.charts import build_chart, chart_window
from burrow_admin.overview import load_overview
from burrow_admin.params import STATUS_ORDER
from burrow_admin.state import settings_of
from burrow_admin.templating import render

__all__ = ["dashboard"]


async def dashboard(request: Request) -> Response:
    settings = settings_of(request)
    store = settings.queue.store
    now = settings.queue.clock.now()
    since, _ = chart_window(now)
    # Independent reads: a store with several connections (PostgreSQL) answers them at once.
    overview, finished = await asyncio.gather(
        load_overview(store, now, settings.workers_seen_within),
        store.jobs_finished_per_minute(since=since, now=now),
    )
    return render(
        request,
        "burrow_admin/dashboard.html",
        {
            "overview": overview,
            "statuses": STATUS_ORDER,
            "chart": build_chart(finished, now),
            "registered_types": sorted(settings.queue.registered_types),
            "now": now,
        },
    )
