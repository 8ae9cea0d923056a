"""The worker engine: ``JobQueue`` runs handlers, retries, heartbeats, rescue and shutdown."""

from burrow_tasks.engine.queue import JobQueue, MaintenanceReport
from burrow_tasks.engine.retry import MAX_RETRY_DELAY, retry_at, retry_delay

__all__ = ["MAX_RETRY_DELAY", "JobQueue", "MaintenanceReport", "retry_at", "retry_delay"]
