"""burrow_jobs_memory: the burrow job store in process memory, for tests and development."""

from burrow_jobs_memory.store import MemoryStore

__all__ = ["MemoryStore"]
