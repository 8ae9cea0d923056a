"""``demo.py --smoke``: the demo app, headless, clicked through over HTTP for CI.

Serves the app on a free port with a fresh database, then, as a browser would: loads the
home page, submits every enqueue form, opens the admin's list and a job's detail page, and
cancels every running export through the admin's own Cancel form (CSRF token and
confirmation page included). Then it waits, polling the store with a deadline, until every
job has settled as its button says it will. Exit 0 with a summary, or 1 naming what is
missing.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from app import create_app, open_demo_queue
from demo_server import bind, running_server
from demo_tasks import ACTIONS, SEED, DemoAction

from burrow_tasks import Job, JobQueue, JobStatus

__all__ = ["run_smoke"]

SETTLE_TIMEOUT_SECONDS = 30.0
"""From the last click to every job settled; the slowest job needs about 11 s."""
POLL_SECONDS = 0.25


class SmokeFailure(Exception):
    """A page or a job did not do what the demo promises."""


def say(message: str) -> None:
    print(f"smoke: {message}", flush=True)


# --- reading forms the way a browser submits them ---------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Every ``<form>`` with its hidden inputs and the name/value of its submit button."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = Form(values.get("action", ""), values.get("method", "get").lower())
        elif self._current is not None and tag in {"input", "button"} and "name" in values:
            self._current.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._current is not None:
            self.forms.append(self._current)
            self._current = None


def forms_in(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_posting_to(html: str, path_end: str, page: str) -> Form:
    for form in forms_in(html):
        if form.method == "post" and urlsplit(form.action).path.endswith(path_end):
            return form
    raise SmokeFailure(f"{page} has no form posting to …{path_end}")


async def get_page(client: httpx.AsyncClient, url: str, *, expect: str = "") -> str:
    response = await client.get(url)
    if response.status_code != 200:
        raise SmokeFailure(f"GET {url} answered {response.status_code}")
    if expect and expect not in response.text:
        raise SmokeFailure(f"GET {url} does not show {expect!r}")
    return response.text


async def submit(client: httpx.AsyncClient, form: Form, *, expect_status: int) -> httpx.Response:
    response = await client.post(form.action, data=form.fields)
    if response.status_code != expect_status:
        raise SmokeFailure(
            f"POST {form.action} answered {response.status_code}, expected {expect_status}: "
            f"{response.text[:200]}"
        )
    return response


# --- the click-through ------------------------------------------------------------------------


async def click_every_button(client: httpx.AsyncClient) -> dict[str, str]:
    """Submit each enqueue form on the home page once; return the first job id per action."""
    home = await get_page(client, "/", expect="burrow demo")
    first_ids: dict[str, str] = {}
    for action in ACTIONS:
        form = form_posting_to(home, f"/enqueue/{action.key}", "the home page")
        response = await submit(client, form, expect_status=303)
        location = response.headers["location"]
        job_ids = parse_qs(urlsplit(location).query).get("job", [])
        if not job_ids:
            raise SmokeFailure(f"enqueueing {action.key!r} redirected to {location} without a job")
        first_ids[action.key] = job_ids[0]
        await get_page(client, location, expect="Enqueued")
        say(f"clicked {action.label!r}: job #{job_ids[0]}")
    return first_ids


async def open_admin(client: httpx.AsyncClient, first_ids: dict[str, str]) -> None:
    listing = await get_page(client, "/admin/jobs/")
    for type_name in {action.type_name for action in ACTIONS}:
        if type_name not in listing:
            raise SmokeFailure(f"the admin's job list does not show {type_name!r}")
    say("admin job list shows every task type")
    detail = f"/admin/jobs/{first_ids['result']}"
    await get_page(client, detail, expect="invoice-total")
    say(f"admin detail page {detail} opens")


async def cancel_in_admin(client: httpx.AsyncClient, job_id: str) -> None:
    """Cancel as a person without JavaScript does: the detail page's Cancel button, then the
    confirmation page's button. Both forms carry the admin's CSRF token."""
    detail_url = f"/admin/jobs/{job_id}"
    detail = await get_page(client, detail_url)
    cancel = form_posting_to(detail, "/cancel", detail_url)
    confirmation = await submit(client, cancel, expect_status=200)
    confirm = form_posting_to(confirmation.text, "/cancel", "the confirmation page")
    if confirm.fields.get("confirmed") != "yes":
        raise SmokeFailure("the confirmation page's form does not confirm")
    await submit(client, confirm, expect_status=303)
    say(f"cancelled running job #{job_id} through the admin")


# --- waiting for the store --------------------------------------------------------------------


Check = Callable[[], Awaitable[list[str]]]
"""Reads the store; returns what is not there yet (empty: done)."""


async def jobs_of_type(queue: JobQueue, type_name: str) -> list[Job]:
    jobs, total = await queue.store.jobs_list(type=type_name, limit=1000)
    if total > len(jobs):
        raise SmokeFailure(f"more {type_name} jobs than one page holds: {total}")
    return jobs


async def wait_for(check: Check, deadline: float, what: str) -> list[str]:
    """Poll ``check`` until it reports no problems or ``deadline`` (monotonic) passes; return
    the last problems (empty: done)."""
    while True:
        problems = await check()
        if not problems or time.monotonic() > deadline:
            if problems:
                say(f"gave up waiting for {what}")
            return problems
        await asyncio.sleep(POLL_SECONDS)


@dataclass
class ExportsRunning:
    queue: JobQueue
    type_name: str
    expected: int

    async def __call__(self) -> list[str]:
        jobs = await jobs_of_type(self.queue, self.type_name)
        running = [job for job in jobs if job.status is JobStatus.RUNNING]
        if len(running) == self.expected:
            return []
        return [f"{self.type_name}: {len(running)} of {self.expected} running"]


@dataclass
class AllSettled:
    """Every action's jobs are in the state the action promises, and no job is unaccounted."""

    queue: JobQueue
    enqueued: Counter[str]

    async def __call__(self) -> list[str]:
        problems: list[str] = []
        for type_name, actions in _by_type(ACTIONS).items():
            jobs = await jobs_of_type(self.queue, type_name)
            expected_total = sum(a.jobs * self.enqueued[a.key] for a in actions)
            if len(jobs) != expected_total:
                problems.append(f"{type_name}: {len(jobs)} jobs stored, expected {expected_total}")
            for action in actions:
                want = action.jobs * self.enqueued[action.key]
                have = sum(1 for job in jobs if action.settles(job))
                if have != want:
                    now = ", ".join(f"{s} {n}" for s, n in sorted(_statuses(jobs).items()))
                    problems.append(
                        f"{action.key}: {have} of {want} {type_name} jobs settled as "
                        f"{action.outcome!r} (statuses now: {now})"
                    )
        return problems


def _by_type(actions: Iterable[DemoAction]) -> dict[str, list[DemoAction]]:
    grouped: dict[str, list[DemoAction]] = {}
    for action in actions:
        grouped.setdefault(action.type_name, []).append(action)
    return grouped


def _statuses(jobs: Iterable[Job]) -> Counter[str]:
    return Counter(job.status.value for job in jobs)


async def summary(queue: JobQueue, enqueued: Counter[str], first_ids: dict[str, str]) -> None:
    for action in ACTIONS:
        count = action.jobs * enqueued[action.key]
        say(f"  {action.key:9} {count:3} x {action.type_name:15} {action.outcome}")
    result = await queue.get_result(first_ids["result"])
    say(f"  result of invoice job #{first_ids['result']}: {result}")
    counts = await queue.store.jobs_count_by_status()
    say("  by status: " + ", ".join(f"{s.value} {counts[s]}" for s in JobStatus))


# --- the run ----------------------------------------------------------------------------------


async def run_smoke(data_dir: Path) -> int:
    """Run the click-through against the app on a fresh database in ``data_dir``."""
    queue = open_demo_queue(data_dir / "jobs.db")
    app = create_app(queue, secret_key=secrets.token_urlsafe(32))
    started = time.monotonic()
    async with running_server(app, bind("127.0.0.1", 0)) as serving:
        say(f"serving on {serving.url}")
        async with httpx.AsyncClient(base_url=serving.url, timeout=10.0) as client:
            try:
                first_ids = await click_every_button(client)
                await open_admin(client, first_ids)
                enqueued = Counter(SEED) + Counter(action.key for action in ACTIONS)
                deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
                for action in ACTIONS:
                    if action.cancel_in_admin:
                        running = ExportsRunning(queue, action.type_name, enqueued[action.key])
                        problems = await wait_for(running, deadline, "the exports to run")
                        if problems:
                            return _failed(problems)
                        for job in await jobs_of_type(queue, action.type_name):
                            await cancel_in_admin(client, job.id)
                problems = await wait_for(
                    AllSettled(queue, enqueued), deadline, "the jobs to settle"
                )
            except SmokeFailure as failure:
                return _failed([str(failure)])
        if problems:
            return _failed(problems)
        say(f"every job settled as promised after {time.monotonic() - started:.1f} s")
        await summary(queue, enqueued, first_ids)
    say("OK")
    return 0


def _failed(problems: list[str]) -> int:
    say("FAILED")
    for problem in problems:
        say(f"  missing: {problem}")
    return 1
