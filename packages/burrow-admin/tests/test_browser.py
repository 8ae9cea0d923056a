"""The admin in a real Chromium (Debian's package) driven by Playwright, against a real
uvicorn server over the memory store: what an operator clicks, with and without JavaScript."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from burrow_admin.demo import DemoJobs, build_demo_app, seed_demo, serve_in_thread
from burrow_jobs_memory import MemoryStore
from burrow_tasks import JobQueue

pytestmark = pytest.mark.browser

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Demo:
    def __init__(self, base_url: str, jobs: DemoJobs) -> None:
        self.admin = base_url + "/admin/jobs/"
        self.jobs = jobs


@pytest.fixture
def demo() -> Iterator[Demo]:
    store = MemoryStore()
    queue = JobQueue(store)
    # Playwright's sync API keeps an event loop running in this thread: seed in another one.
    with ThreadPoolExecutor(max_workers=1) as executor:
        jobs = executor.submit(asyncio.run, seed_demo(store, datetime.now(UTC))).result()
    with serve_in_thread(build_demo_app(queue)) as base_url:
        yield Demo(base_url, jobs)


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[object]:
    executable = chromium
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """A Playwright page that records every console error and uncaught exception."""

    def __init__(self, browser: object, *, javascript: bool = True) -> None:
        self.context = browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": 1280, "height": 900}, java_script_enabled=javascript
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))


@pytest.fixture
def page(browser: object) -> Iterator[Page]:
    page = Page(browser)
    yield page
    page.context.close()


def test_list_filter_open_retry_cancel_and_german_without_console_errors(
    demo: Demo, page: Page
) -> None:
    p = page.page
    p.goto(demo.admin)
    assert p.locator("table.ba-jobs tbody tr").count() == 20

    p.get_by_role("navigation", name="Filter by status").get_by_role("link", name="Dead").click()
    p.wait_for_url("**/admin/jobs/?status=dead")
    statuses = p.locator("table.ba-jobs tbody .ba-badge.ba-status-dead").all_inner_texts()
    assert statuses
    assert set(statuses) == {"Dead"}

    p.locator(f'tr[data-job-id="{demo.jobs.dead}"] a.ba-type-link').click()
    p.wait_for_url(f"**/admin/jobs/{demo.jobs.dead}")
    assert p.locator(".ba-error-class").inner_text() == "httpx.HTTPStatusError"

    p.locator('button[data-action="retry"]').click()
    p.wait_for_url(f"**/admin/jobs/{demo.jobs.dead}")
    assert p.locator("#ba-job-title .ba-badge").first.inner_text() == "Pending"

    p.goto(demo.admin + demo.jobs.pending)
    p.locator('button[data-action="cancel"]').click()
    dialog = p.locator("dialog#ba-confirm")
    assert dialog.is_visible()
    assert "Cancel this job?" in dialog.inner_text()
    dialog.locator("[data-confirm-ok]").click()
    p.wait_for_load_state()
    assert p.locator("#ba-job-title .ba-status-dead").inner_text() == "Dead"
    assert p.locator("#ba-job-title .ba-flag").inner_text() == "cancelled"

    p.get_by_role("link", name="Deutsch").click()
    p.wait_for_url("**lang=de")
    assert p.locator("html").get_attribute("lang") == "de"
    p.get_by_role("link", name="Alle Jobs").click()
    assert p.get_by_role("navigation", name="Nach Status filtern").is_visible()
    assert "Wartend" in p.locator(".ba-pills").inner_text()

    p.goto(demo.admin + "dashboard")
    assert p.locator("svg.ba-chart rect.ba-chart-completed").count() > 10

    assert page.errors == []


def test_keeping_the_job_in_the_dialog_changes_nothing(demo: Demo, page: Page) -> None:
    p = page.page
    p.goto(demo.admin + demo.jobs.pending)

    p.locator('button[data-action="delete"]').click()
    p.locator("dialog#ba-confirm").get_by_role("button", name="Keep the job").click()

    assert not p.locator("dialog#ba-confirm").is_visible()
    assert p.locator("#ba-job-title .ba-status-pending").is_visible()
    assert page.errors == []


def test_without_javascript_cancel_asks_on_a_confirmation_page(demo: Demo, browser: object) -> None:
    page = Page(browser, javascript=False)
    p = page.page
    try:
        p.goto(demo.admin + demo.jobs.unhandled)
        p.locator('button[data-action="cancel"]').click()
        p.wait_for_load_state()
        assert p.locator("h1").inner_text() == "Cancel job"

        p.locator("main").get_by_role("button", name="Cancel job").click()
        p.wait_for_url(f"**/admin/jobs/{demo.jobs.unhandled}")
        assert p.locator("#ba-job-title .ba-status-dead").inner_text() == "Dead"
    finally:
        page.context.close()
