"""Handlers render templates from values the app gave the queue, in the job's locale."""

from __future__ import annotations

import dataclasses

from jinja2 import DictLoader, Environment

from burrow_jobs_memory import MemoryStore
from burrow_tasks import FakeClock, JobQueue, current_job, define_result_task


@dataclasses.dataclass
class WelcomeMail:
    name: str
    locale: str


def render_welcome(payload: WelcomeMail) -> str:
    templates: Environment = current_job().values["templates"]
    return templates.get_template(f"welcome.{payload.locale}.txt").render(name=payload.name)


async def test_a_handler_renders_a_template_in_the_jobs_locale(clock: FakeClock) -> None:
    templates = Environment(
        loader=DictLoader(
            {"welcome.en.txt": "Welcome, {{ name }}!", "welcome.de.txt": "Willkommen, {{ name }}!"}
        ),
        autoescape=True,
    )
    queue = JobQueue(MemoryStore(), clock=clock, values={"templates": templates})
    welcome = define_result_task("welcome-mail", render_welcome)
    welcome.register(queue)

    german = await welcome.enqueue(WelcomeMail(name="Ada", locale="de"))
    english = await welcome.enqueue(WelcomeMail(name="Grace", locale="en"))
    await queue.run_until_idle()

    assert await queue.get_result(german) == "Willkommen, Ada!"
    assert await queue.get_result(english) == "Welcome, Grace!"
