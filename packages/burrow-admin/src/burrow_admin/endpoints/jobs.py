"""The job list and the job detail page."""

from __future__ import annotations

import asyncio
import math

from starlette.requests import Request
from starlette.responses import Response

from burrow_admin.actions import allowed_actions
from burrow_admin.errors import AdminError
from burrow_admin.explain import explain_wait
from burrow_admin.i18n import N_
from burrow_admin.overview import load_overview
from burrow_admin.params import STATUS_ORDER, parse_list_query
from burrow_admin.state import settings_of
from burrow_admin.templating import render

__all__ = ["job_detail", "job_list"]


async def job_list(request: Request) -> Response:
    settings = settings_of(request)
    query = parse_list_query(request.query_params)
    store = settings.queue.store
    now = settings.queue.clock.now()
    # Independent reads: a store with several connections (PostgreSQL) answers them at once.
    overview, (jobs, total), types = await asyncio.gather(
        load_overview(store, now, settings.workers_seen_within),
        store.jobs_list(
            status=query.status, type=query.type, offset=query.offset, limit=query.limit
        ),
        settings.job_types.read(store),
    )
    if query.type is not None and query.type not in types:
        # The filter stays shown: the type has no jobs left, or is newer than the cached list.
        types = sorted([*types, query.type])
    pages = max(1, math.ceil(total / query.limit))
    return render(
        request,
        "burrow_admin/list.html",
        {
            "query": query,
            "jobs": jobs,
            "total": total,
            "pages": pages,
            "overview": overview,
            "statuses": STATUS_ORDER,
            "types": types,
            "allowed_actions": allowed_actions,
            "now": now,
        },
    )


async def job_detail(request: Request) -> Response:
    settings = settings_of(request)
    job_id = request.path_params["job_id"]
    store = settings.queue.store
    job = await store.job_get(job_id)
    if job is None:
        raise AdminError(404, N_("There is no job with the id %(id)s."), id=repr(job_id))
    now = settings.queue.clock.now()
    overview = await load_overview(store, now, settings.workers_seen_within)
    return render(
        request,
        "burrow_admin/detail.html",
        {
            "job": job,
            "actions": allowed_actions(job.status),
            "waiting": await explain_wait(store, job, now=now, pools=overview.pools),
            "now": now,
        },
    )
