"""Typed tasks: a handler whose annotation fixes the payload type on both ends of the wire.

@task("send-welcome-email", max_retries=5)
async def send_welcome_email(payload: WelcomeEmail) -> None: ...

send_welcome_email.register(queue)
await send_welcome_email.enqueue(WelcomeEmail(email="a@example.com"))
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, cast, overload

from burrow_tasks.codec import PayloadCodec, codec_for
from burrow_tasks.context import capture_result
from burrow_tasks.errors import TaskNotRegistered
from burrow_tasks.options import JobConfig, JobOption, check_type_name, resolve_config
from burrow_tasks.queue_protocols import JobHandler, Queue
from burrow_tasks.types import JobId

__all__ = ["ResultTask", "TaskDefinition", "define_result_task", "define_task", "task"]

P = TypeVar("P")
R = TypeVar("R")

Handler = Callable[[P], Any]
"""A typed handler: ``(payload: P) -> None`` or ``-> R``, sync or async."""


def is_async_callable(func: Callable[..., Any]) -> bool:
    """True for ``async def`` functions and objects whose ``__call__`` is one."""
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - we need the method itself
    return call is not None and inspect.iscoroutinefunction(call)


def _annotations(handler: Callable[..., Any]) -> tuple[Any, Any]:
    """The payload and return annotations of ``handler`` (``Any`` where missing)."""
    try:
        signature = inspect.signature(handler, eval_str=True)
    except NameError as exc:
        raise TypeError(f"cannot resolve the annotations of {handler!r}: {exc}") from exc
    params = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not params:
        raise TypeError(f"a task handler takes one payload argument; {handler!r} takes none")
    payload = params[0].annotation
    returns = signature.return_annotation
    empty = inspect.Signature.empty
    return (Any if payload is empty else payload, Any if returns is empty else returns)


class TaskDefinition(Generic[P]):
    """A job type with a typed payload. Bind it with ``register(queue)``; enqueue goes to the
    queue it was last registered with."""

    def __init__(
        self,
        name: str,
        handler: Callable[[P], Any],
        config: JobConfig,
        payload_codec: PayloadCodec[P],
    ) -> None:
        self.name = name
        self.handler = handler
        self.config = config
        self.codec = payload_codec
        self._queue: Queue | None = None

    @property
    def queue(self) -> Queue | None:
        """The queue this task was last registered with, or None."""
        return self._queue

    def register(self, queue: Queue) -> None:
        """Register the handler on ``queue`` and send this task's enqueues there."""
        queue.handle(
            self.name,
            self._raw_handler(),
            max_retries=self.config.max_retries,
            priority=self.config.priority,
            codec=self.codec,
        )
        self._queue = queue

    def _raw_handler(self) -> JobHandler:
        decode = self.codec.decode
        handler = self.handler
        if is_async_callable(handler):
            async_handler = cast(Callable[[P], Awaitable[Any]], handler)

            async def run_async(payload: bytes) -> None:
                await async_handler(decode(payload))

            return run_async

        def run_sync(payload: bytes) -> Any:
            # What the handler returns goes back to the engine, which awaits an awaitable:
            # an async function behind a plain decorator looks sync, and its coroutine must
            # still run.
            return handler(decode(payload))

        return run_sync

    def _bound(self) -> Queue:
        if self._queue is None:
            raise TaskNotRegistered(self.name)
        return self._queue

    async def enqueue(self, payload: P, *, using: Any = None) -> JobId:
        """Enqueue one job to run now."""
        return await self._bound().enqueue(self.name, payload, using=using)

    async def enqueue_at(self, payload: P, run_at: datetime, *, using: Any = None) -> JobId:
        """Enqueue one job to run at ``run_at`` (timezone-aware)."""
        return await self._bound().enqueue_at(self.name, payload, run_at, using=using)

    async def enqueue_batch(self, payloads: Sequence[P], *, using: Any = None) -> list[JobId]:
        """Enqueue many jobs in one all-or-nothing insert; ids in input order."""
        return await self._bound().enqueue_batch(self.name, payloads, using=using)

    async def enqueue_batch_at(
        self, payloads: Sequence[P], run_at: datetime, *, using: Any = None
    ) -> list[JobId]:
        """``enqueue_batch`` with one ``run_at`` for every job."""
        return await self._bound().enqueue_batch_at(self.name, payloads, run_at, using=using)

    def __call__(self, payload: P) -> Any:
        """Call the handler directly (e.g. in a unit test), without a queue."""
        return self.handler(payload)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.config})"


class ResultTask(TaskDefinition[P], Generic[P, R]):
    """A typed task whose handler returns a value, stored as JSON on the completed job
    (read it with ``queue.get_result(job_id)``)."""

    def __init__(
        self,
        name: str,
        handler: Callable[[P], Any],
        config: JobConfig,
        payload_codec: PayloadCodec[P],
        result_codec: PayloadCodec[R],
    ) -> None:
        super().__init__(name, handler, config, payload_codec)
        self.result_codec = result_codec

    def _raw_handler(self) -> JobHandler:
        decode = self.codec.decode
        encode = self.result_codec.encode
        handler = self.handler

        async def capture_awaited(awaitable: Awaitable[R]) -> None:
            capture_result(encode(await awaitable).encode())

        if is_async_callable(handler):
            async_handler = cast(Callable[[P], Awaitable[R]], handler)

            async def run_async(payload: bytes) -> None:
                await capture_awaited(async_handler(decode(payload)))

            return run_async

        def run_sync(payload: bytes) -> Awaitable[None] | None:
            result = handler(decode(payload))
            if inspect.isawaitable(result):  # an async function behind a plain decorator
                return capture_awaited(result)
            capture_result(encode(result).encode())
            return None

        return run_sync


def define_task(
    name: str,
    handler: Callable[[P], Any],
    *options: JobOption,
    max_retries: int = 3,
    priority: int = 0,
) -> TaskDefinition[P]:
    """A typed task; the payload type comes from ``handler``'s first parameter annotation.

    ``max_retries`` is the maximum number of executions. ``options`` (``with_max_retries``,
    ``with_priority``) are applied over the keywords.
    """
    check_type_name(name)
    payload_type, _ = _annotations(handler)
    config = resolve_config(options, max_retries=max_retries, priority=priority)
    return TaskDefinition(name, handler, config, codec_for(payload_type))


def task(
    name: str, *options: JobOption, max_retries: int = 3, priority: int = 0
) -> Callable[[Callable[[P], Any]], TaskDefinition[P]]:
    """Decorator form of ``define_task``."""

    def decorate(handler: Callable[[P], Any]) -> TaskDefinition[P]:
        return define_task(name, handler, *options, max_retries=max_retries, priority=priority)

    return decorate


@overload
def define_result_task(
    name: str,
    handler: Callable[[P], Awaitable[R]],
    *options: JobOption,
    max_retries: int = 3,
    priority: int = 0,
) -> ResultTask[P, R]: ...


@overload
def define_result_task(
    name: str,
    handler: Callable[[P], R],
    *options: JobOption,
    max_retries: int = 3,
    priority: int = 0,
) -> ResultTask[P, R]: ...


def define_result_task(
    name: str,
    handler: Callable[[P], Any],
    *options: JobOption,
    max_retries: int = 3,
    priority: int = 0,
) -> ResultTask[P, R]:
    """A typed task whose return value (type from the return annotation) is stored as JSON.

    The handler may be sync (``-> R``) or async (``-> Awaitable[R]``)."""
    check_type_name(name)
    payload_type, result_type = _annotations(handler)
    config = resolve_config(options, max_retries=max_retries, priority=priority)
    return ResultTask(name, handler, config, codec_for(payload_type), codec_for(result_type))
