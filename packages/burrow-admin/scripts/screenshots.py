"""Take the README's screenshots: list, detail and dashboard at 1280 px, light layout.

    python packages/burrow-admin/scripts/screenshots.py

Needs Debian's Chromium (/usr/bin/chromium), playwright, uvicorn and burrow-jobs-memory.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import sync_playwright

from burrow_admin.demo import build_demo_app, seed_demo, serve_in_thread
from burrow_jobs_memory import MemoryStore
from burrow_tasks import JobQueue

DOCS = Path(__file__).resolve().parents[1] / "docs"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def main() -> None:
    store = MemoryStore()
    queue = JobQueue(store)
    jobs = asyncio.run(seed_demo(store, datetime.now(UTC)))
    DOCS.mkdir(exist_ok=True)
    with serve_in_thread(build_demo_app(queue)) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, color_scheme="light")
        admin = base_url + "/admin/jobs/"
        shots = {
            "list.png": admin,
            "detail.png": admin + jobs.dead,
            "dashboard.png": admin + "dashboard",
        }
        for name, url in shots.items():
            page.goto(url)
            page.screenshot(path=str(DOCS / name), full_page=True)
            print(f"wrote {DOCS / name}")
        browser.close()


if __name__ == "__main__":
    main()
