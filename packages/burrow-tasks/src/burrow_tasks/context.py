"""What a running handler can learn about its job, and how it hands back a result."""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from burrow_tasks.errors import PayloadError
from burrow_tasks.types import JobId

__all__ = [
    "JobContext",
    "ResultCapture",
    "capture_result",
    "current_job",
    "job_context",
    "with_result_capture",
]


class JobContext:
    """The job a handler is running: from ``current_job()`` inside a handler.

    ``values`` are what the app gave the queue at construction (e.g. a Jinja2 environment).
    ``cancel_requested`` turns True when the job was cancelled, deleted or lost its lease
    while running: an async handler is cancelled outright, a sync one should check this flag
    and return early (its outcome will be refused anyway).
    """

    __slots__ = (
        "_cancel_event",
        "_cancelled",
        "attempt",
        "enqueued_at",
        "id",
        "max_retries",
        "type",
        "values",
    )

    def __init__(
        self,
        *,
        id: JobId,
        type: str,
        attempt: int,
        max_retries: int,
        enqueued_at: datetime,
        values: Mapping[str, Any],
    ) -> None:
        self.id = id
        self.type = type
        self.attempt = attempt
        self.max_retries = max_retries
        self.enqueued_at = enqueued_at
        self.values = values
        self._cancelled = False
        # Made only when a sync handler waits for a cancel (a threading.Event, because it
        # waits on its own thread): most jobs never do, and an Event per job costs a lock.
        self._cancel_event: threading.Event | None = None

    @property
    def cancel_requested(self) -> bool:
        return self._cancelled

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_retries

    def request_cancel(self) -> None:
        """Ask the handler to stop (set by the engine)."""
        with _CANCEL_EVENTS:
            self._cancelled = True
            event = self._cancel_event
        if event is not None:
            event.set()

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Block (in a sync handler) until cancel is requested or ``timeout`` passes."""
        with _CANCEL_EVENTS:
            if self._cancelled:
                return True
            if self._cancel_event is None:
                self._cancel_event = threading.Event()
            event = self._cancel_event
        return event.wait(timeout)

    def __repr__(self) -> str:
        return (
            f"JobContext(id={self.id!r}, type={self.type!r}, attempt={self.attempt}/"
            f"{self.max_retries}, cancel_requested={self.cancel_requested})"
        )


_CANCEL_EVENTS = threading.Lock()
"""Orders a cancel request against a handler's first ``wait_cancelled`` (the two run on
different threads), so the waiter either sees the flag or gets the event that is set."""


_current_job: contextvars.ContextVar[JobContext] = contextvars.ContextVar("burrow_current_job")


def current_job() -> JobContext:
    """The job the calling handler runs; ``RuntimeError`` outside a handler."""
    try:
        return _current_job.get()
    except LookupError:
        raise RuntimeError(
            "current_job() called outside a job handler (no job is running in this context)"
        ) from None


@dataclass(slots=True)
class ResultCapture:
    """Holds the result (JSON text as UTF-8 bytes) a handler produced for its job."""

    data: bytes | None = field(default=None)

    @property
    def text(self) -> str | None:
        return None if self.data is None else self.data.decode()


_result_capture: contextvars.ContextVar[ResultCapture | None] = contextvars.ContextVar(
    "burrow_result_capture", default=None
)


@contextmanager
def with_result_capture(capture: ResultCapture) -> Iterator[ResultCapture]:
    """Collect ``capture_result`` calls made inside the ``with`` block into ``capture``."""
    token = _result_capture.set(capture)
    try:
        yield capture
    finally:
        _result_capture.reset(token)


def job_context(context: JobContext, capture: ResultCapture) -> contextvars.Context:
    """A copy of the current context in which ``current_job()`` is ``context`` and
    ``capture_result`` writes to ``capture``: the engine runs a job's task in it. A task's
    context is its own, so nothing has to be reset when the handler returns (a scope entered
    and left per job cost a short handler three calls more)."""
    scope = contextvars.copy_context()
    scope.run(_current_job.set, context)
    scope.run(_result_capture.set, capture)
    return scope


def capture_result(data: bytes) -> bool:
    """Store ``data`` (JSON text) as the running job's result.

    Result tasks call this for you. Returns False when no capture is active (the handler was
    called outside a worker). Bytes that are not UTF-8 JSON text raise ``PayloadError``.
    """
    capture = _result_capture.get()
    if capture is None:
        return False
    raw = bytes(data)
    try:
        # Decoded first: json.loads of bytes also takes UTF-16 and UTF-32, which the result
        # column, text, would not.
        json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError is one
        raise PayloadError(f"job result is not JSON text: {exc}") from exc
    capture.data = raw
    return True
