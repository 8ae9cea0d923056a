"""The demo web app: a Starlette app with jobs in a SQLite file and the admin mounted.

- ``GET /``: buttons that enqueue jobs, and how many jobs are in each status;
- ``POST /enqueue/{key}``: enqueue one button's jobs, then back to ``/``;
- ``/admin/jobs/``: the burrow admin (open to anyone: this is a local demo).

The worker pool runs for as long as the app does (``queue_lifespan``); when the app starts it
also enqueues ``SEED``, so the admin shows every status at once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from html import escape
from pathlib import Path
from urllib.parse import urlencode

from demo_tasks import ACTIONS, ACTIONS_BY_KEY, SEED, DemoAction, register_tasks
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from burrow_admin import create_admin
from burrow_tasks import JobQueue, JobsConfig, JobStatus, open_queue, queue_lifespan

__all__ = ["DEMO_CONFIG", "create_app", "open_demo_queue", "seed_jobs"]

log = logging.getLogger("burrow_demo")

DEMO_CONFIG = JobsConfig(
    workers=4,
    poll_interval=timedelta(milliseconds=500),
    # Retries after 2 s, 4 s, 8 s ... instead of 30 s, 1 m, 2 m: visible within seconds.
    retry_base_delay=timedelta(seconds=2),
    heartbeat_interval=timedelta(seconds=5),
    stale_timeout=timedelta(minutes=1),
    # Ctrl-C waits this long for running handlers, then puts their jobs back to pending.
    shutdown_grace=timedelta(seconds=3),
)


def sqlite_dsn(database: Path) -> str:
    """``sqlite:////absolute/path.db``: absolute, so the working directory does not matter."""
    return f"sqlite:///{database.resolve()}"


def open_demo_queue(database: Path, config: JobsConfig = DEMO_CONFIG) -> JobQueue:
    """A queue on the SQLite file ``database`` (schema created on open), demo tasks registered.
    The queue owns the store: its shutdown closes it."""
    database.parent.mkdir(parents=True, exist_ok=True)
    queue = open_queue(sqlite_dsn(database), config=config)
    register_tasks(queue)
    return queue


async def seed_jobs(queue: JobQueue) -> int:
    """Enqueue what ``SEED`` lists; return how many jobs that made."""
    total = 0
    for key in SEED:
        total += len(await ACTIONS_BY_KEY[key].enqueue(queue))
    return total


def create_app(queue: JobQueue, *, secret_key: str, seed: bool = True) -> Starlette:
    """The demo app on ``queue``; ``secret_key`` signs the admin's CSRF tokens."""

    @asynccontextmanager
    async def enqueue_seed(app: Starlette) -> AsyncIterator[None]:
        # Runs after queue_lifespan has started the pool, so the seeded jobs start at once.
        if seed:
            log.info("enqueued   %d jobs to start with", await seed_jobs(queue))
        yield

    async def home(request: Request) -> Response:
        counts = await queue.store.jobs_count_by_status()
        return HTMLResponse(render_home(request, counts))

    async def enqueue(request: Request) -> Response:
        # The demo's own forms carry no CSRF token (the admin's do); a browser tells us when
        # another site posts here, and that is refused.
        if request.headers.get("sec-fetch-site") == "cross-site":
            return PlainTextResponse("cross-site form posts are refused", status_code=403)
        key = request.path_params["key"]
        action = ACTIONS_BY_KEY.get(key)
        if action is None:
            known = ", ".join(ACTIONS_BY_KEY)
            return PlainTextResponse(
                f"unknown demo action {key!r} (known: {known})", status_code=404
            )
        ids = await action.enqueue(queue)
        log.info("enqueued   %s x%d (%s)", action.type_name, len(ids), action.key)
        target = request.url_for("home").include_query_params(
            enqueued=action.key, job=ids[0], count=len(ids)
        )
        return RedirectResponse(target, status_code=303)

    admin = create_admin(
        queue,
        # A local demo only: anyone who can reach this port may retry, cancel and delete
        # jobs. A real app passes access=... (see burrow-admin's README).
        allow_anonymous=True,
        secret_key=secret_key,
        title="burrow demo jobs",
    )
    routes = [
        Route("/", home, methods=["GET"], name="home"),
        Route("/enqueue/{key}", enqueue, methods=["POST"], name="enqueue"),
        Mount("/admin/jobs", app=admin, name="jobs_admin"),
    ]
    return Starlette(routes=routes, lifespan=queue_lifespan(queue, enqueue_seed))


# --- the home page ----------------------------------------------------------------------------

_STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
h1 { margin-bottom: 0; } .lead { color: #555; margin-top: .25rem; }
.flash { background: #e8f5e9; border: 1px solid #a5d6a7; padding: .5rem 1rem; border-radius: 6px; }
.counts { display: flex; gap: .5rem; flex-wrap: wrap; padding: 0; list-style: none; }
.counts a { display: block; padding: .25rem .75rem; border: 1px solid #ccc; border-radius: 6px;
  text-decoration: none; color: inherit; }
.action { display: flex; gap: 1rem; align-items: center; margin: .5rem 0; }
.action form { flex: 0 0 22rem; } .action button { width: 100%; padding: .5rem; cursor: pointer; }
.outcome { color: #555; font-size: .9rem; }
"""


def render_home(request: Request, counts: dict[JobStatus, int]) -> str:
    admin_url = str(request.url_for("jobs_admin:job_list"))
    status_links = "".join(
        f'<li><a href="{escape(admin_url)}?status={status.value}">'
        f"{status.value}: <strong>{counts.get(status, 0)}</strong></a></li>"
        for status in JobStatus
    )
    buttons = "".join(_action_row(request, action) for action in ACTIONS)
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>burrow demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body>
<h1>burrow demo</h1>
<p class="lead">Jobs live in a SQLite file beside the app; four workers run them in this
process. Failed jobs are retried after 2 s, 4 s, 8 s ...</p>
{_flash(request)}
<h2>Jobs by status</h2>
<ul class="counts">{status_links}</ul>
<p><a href="{escape(admin_url)}">Open the jobs admin</a> ·
<a href="{escape(str(request.url_for("jobs_admin:dashboard")))}">dashboard</a> ·
<a href="{escape(str(request.url_for("home")))}">refresh the counts</a></p>
<h2>Enqueue</h2>
{buttons}
</body>
</html>
"""


def _action_row(request: Request, action: DemoAction) -> str:
    target = request.url_for("enqueue", key=action.key)
    return (
        f'<div class="action"><form method="post" action="{escape(str(target))}">'
        f'<button type="submit" name="action" value="{escape(action.key)}">'
        f"{escape(action.label)}</button></form>"
        f'<span class="outcome">{escape(action.outcome)}</span></div>'
    )


def _flash(request: Request) -> str:
    """After an enqueue: what was enqueued, linked to the job (or the type's list)."""
    action = ACTIONS_BY_KEY.get(request.query_params.get("enqueued", ""))
    job_id = request.query_params.get("job", "")
    if action is None or not job_id:
        return ""
    if action.jobs == 1:
        url = str(request.url_for("jobs_admin:job_detail", job_id=job_id))
        text = f"job #{job_id}"
    else:
        url = f"{request.url_for('jobs_admin:job_list')}?{urlencode({'type': action.type_name})}"
        text = f"{action.jobs} {action.type_name} jobs"
    return (
        f'<p class="flash">Enqueued {escape(action.label.lower())}: '
        f'<a href="{escape(url)}">{escape(text)}</a>. Expect: {escape(action.outcome)}.</p>'
    )
