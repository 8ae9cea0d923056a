"""The job types a queue can run: handler, settings and payload codec per type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burrow_tasks.codec import PayloadCodec
from burrow_tasks.options import JobConfig
from burrow_tasks.queue_protocols import JobHandler

__all__ = ["Registration"]


@dataclass(frozen=True, slots=True)
class Registration:
    """One registered job type. ``is_async`` decides how the handler runs: awaited on the
    event loop, or called on a daemon thread."""

    type_name: str
    handler: JobHandler
    config: JobConfig
    codec: PayloadCodec[Any]
    is_async: bool
