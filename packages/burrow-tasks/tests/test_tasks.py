"""Typed tasks: the payload type from the annotation, encoded at enqueue, decoded in the worker."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import pydantic
import pytest

# pydantic needs typing_extensions' TypedDict on Python < 3.12.
from typing_extensions import TypedDict

from burrow_tasks import (
    JobQueue,
    JobStatus,
    PayloadError,
    TaskNotRegistered,
    define_result_task,
    define_task,
    task,
    with_max_retries,
    with_priority,
)


@dataclasses.dataclass
class Welcome:
    email: str
    locale: str = "en"


class Resize(TypedDict):
    image_id: int
    width: int


class Report(pydantic.BaseModel):
    user_id: int


async def test_a_dataclass_payload_round_trips(queue: JobQueue) -> None:
    received: list[Welcome] = []

    @task("welcome")
    async def welcome(payload: Welcome) -> None:
        received.append(payload)

    welcome.register(queue)
    job_id = await welcome.enqueue(Welcome(email="ada@example.com", locale="de"))
    await queue.run_until_idle()

    assert received == [Welcome(email="ada@example.com", locale="de")]
    assert (await queue.get_job(job_id)).payload == '{"email":"ada@example.com","locale":"de"}'


async def test_a_typeddict_payload_round_trips_through_a_sync_handler(queue: JobQueue) -> None:
    received: list[Resize] = []

    def resize(payload: Resize) -> None:
        received.append(payload)

    define_task("resize", resize).register(queue)
    await queue.enqueue("resize", {"image_id": 7, "width": 640})
    await queue.run_until_idle()

    assert received == [{"image_id": 7, "width": 640}]


async def test_a_pydantic_model_payload_round_trips(queue: JobQueue) -> None:
    received: list[Report] = []

    async def report(payload: Report) -> None:
        received.append(payload)

    report_task = define_task("report", report)
    report_task.register(queue)
    await report_task.enqueue(Report(user_id=3))
    await queue.run_until_idle()

    assert received == [Report(user_id=3)]


async def test_a_plain_json_type_payload_round_trips(queue: JobQueue) -> None:
    received: list[list[int]] = []

    async def total(payload: list[int]) -> None:
        received.append(payload)

    define_task("total", total).register(queue)
    await queue.enqueue("total", [1, 2, 3])
    await queue.run_until_idle()

    assert received == [[1, 2, 3]]


async def test_an_invalid_typed_payload_is_refused_at_enqueue_and_nothing_written(
    queue: JobQueue,
) -> None:
    async def resize(payload: Resize) -> None:
        pass

    resize_task = define_task("resize", resize)
    resize_task.register(queue)

    with pytest.raises(PayloadError, match=r"'resize'.*width"):
        await queue.enqueue("resize", {"image_id": 7})
    _, total = await queue.store.jobs_list()
    assert total == 0


async def test_a_stored_payload_that_no_longer_validates_fails_the_job_without_calling_the_handler(
    queue: JobQueue,
) -> None:
    called = False

    async def resize(payload: Resize) -> None:
        nonlocal called
        called = True

    queue.handle("resize", lambda payload: None)
    job_id = await queue.enqueue("resize", {"image_id": "not a number"})
    define_task("resize", resize).register(queue)  # a new release changed the payload type
    await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert not called
    assert job.status is JobStatus.FAILED
    assert job.error_class == "burrow_tasks.errors.PayloadError"
    assert job.last_error is not None
    assert "image_id" in job.last_error


async def test_enqueue_before_register_names_the_task() -> None:
    async def orphan(payload: int) -> None:
        pass

    with pytest.raises(TaskNotRegistered, match="'orphan'"):
        await define_task("orphan", orphan).enqueue(1)


async def test_a_task_enqueues_to_the_queue_it_was_last_registered_with(
    queue: JobQueue,
) -> None:
    other = JobQueue(queue.store, clock=queue.clock)

    async def ping(payload: int) -> None:
        pass

    ping_task = define_task("ping", ping)
    ping_task.register(other)
    ping_task.register(queue)

    assert ping_task.queue is queue


def test_options_apply_over_the_keywords() -> None:
    async def handler(payload: int) -> None:
        pass

    definition = define_task(
        "t", handler, with_max_retries(5), with_priority(10), max_retries=2, priority=1
    )

    assert (definition.config.max_retries, definition.config.priority) == (5, 10)


async def test_a_result_task_stores_its_return_value(queue: JobQueue) -> None:
    async def square(payload: int) -> dict[str, int]:
        return {"square": payload * payload}

    square_task = define_result_task("square", square)
    square_task.register(queue)
    job_id = await square_task.enqueue(12)
    await queue.run_until_idle()

    assert await queue.get_result(job_id) == {"square": 144}
    assert (await queue.get_job(job_id)).result == '{"square":144}'


async def test_a_sync_result_task_stores_a_dataclass_result(queue: JobQueue) -> None:
    def greet(payload: str) -> Welcome:
        return Welcome(email=f"{payload}@example.com")

    define_result_task("greet", greet).register(queue)
    job_id = await queue.enqueue("greet", "ada")
    await queue.run_until_idle()

    assert await queue.get_result(job_id) == {"email": "ada@example.com", "locale": "en"}


async def test_get_result_is_none_while_the_job_is_not_completed(queue: JobQueue) -> None:
    async def square(payload: int) -> int:
        return payload * payload

    define_result_task("square", square).register(queue)
    job_id = await queue.enqueue("square", 3)

    assert await queue.get_result(job_id) is None


async def test_get_result_is_none_for_a_task_without_result(queue: JobQueue) -> None:
    async def nothing(payload: int) -> None:
        pass

    define_task("nothing", nothing).register(queue)
    job_id = await queue.enqueue("nothing", 3)
    await queue.run_until_idle()

    assert await queue.get_result(job_id) is None


async def test_get_result_of_an_unknown_id_raises_job_not_found(queue: JobQueue) -> None:
    from burrow_tasks import JobNotFound

    with pytest.raises(JobNotFound, match="'nope'"):
        await queue.get_result("nope")


def test_a_task_can_be_called_directly_in_a_unit_test() -> None:
    def double(payload: int) -> int:
        return payload * 2

    assert define_result_task("double", double)(4) == 8


def test_a_handler_without_a_payload_parameter_is_refused() -> None:
    def nothing() -> None:
        pass

    with pytest.raises(TypeError, match="one payload argument"):
        define_task("nothing", nothing)  # type: ignore[arg-type]


def _plain_decorator(handler: Any) -> Any:
    """A sync wrapper, as a tracing or logging decorator writes one: it hides ``async``."""

    @functools.wraps(handler)
    def wrapper(*args: Any) -> Any:
        return handler(*args)

    return wrapper


async def test_an_async_task_behind_a_plain_decorator_runs_its_coroutine(
    queue: JobQueue,
) -> None:
    sent: list[str] = []

    @_plain_decorator
    async def send_mail(payload: str) -> None:
        sent.append(payload)

    mail = define_task("mail", send_mail)
    mail.register(queue)
    job_id = await mail.enqueue("ada@example.com")
    await queue.run_until_idle()

    assert sent == ["ada@example.com"]
    assert (await queue.get_job(job_id)).status is JobStatus.COMPLETED


async def test_an_async_result_task_behind_a_plain_decorator_stores_the_awaited_result(
    queue: JobQueue,
) -> None:
    @_plain_decorator
    async def square(payload: int) -> int:
        return payload * payload

    define_result_task("square", square).register(queue)
    job_id = await queue.enqueue("square", 7)
    await queue.run_until_idle()

    assert await queue.get_result(job_id) == 49
