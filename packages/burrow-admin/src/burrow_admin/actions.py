"""The operator actions and the statuses each accepts (the store's rule 8, shown as buttons)."""

from __future__ import annotations

from enum import StrEnum

from burrow_admin.types import AdminQueue
from burrow_tasks.store import CANCEL_ACCEPTS, RETRY_ACCEPTS
from burrow_tasks.types import JobId, JobStatus

__all__ = ["Action", "allowed_actions", "perform"]


class Action(StrEnum):
    RETRY = "retry"
    CANCEL = "cancel"
    DELETE = "delete"

    @property
    def needs_confirmation(self) -> bool:
        """Cancel and delete cannot be undone; retry only re-queues."""
        return self is not Action.RETRY


def allowed_actions(status: JobStatus) -> tuple[Action, ...]:
    """The actions a job of ``status`` accepts, in button order."""
    allowed: list[Action] = []
    if status in RETRY_ACCEPTS:
        allowed.append(Action.RETRY)
    if status in CANCEL_ACCEPTS:
        allowed.append(Action.CANCEL)
    allowed.append(Action.DELETE)
    return tuple(allowed)


async def perform(queue: AdminQueue, action: Action, job_id: JobId) -> None:
    """Do ``action`` through the queue; raises ``JobNotFound`` or ``InvalidJobStatus``."""
    if action is Action.RETRY:
        await queue.retry(job_id)
    elif action is Action.CANCEL:
        await queue.dequeue(job_id)
    else:
        await queue.delete(job_id)
