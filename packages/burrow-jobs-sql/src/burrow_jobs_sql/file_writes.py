"""Notice of writes to a SQLite database, from Linux's inotify.

Another process's commit to a WAL database reaches the ``-wal`` file as ordinary writes,
which inotify reports the moment they happen. A watcher that blocks on those reports sleeps
while nothing is written (no polling wake-ups) and looks at ``PRAGMA data_version`` as soon
as something is. Elsewhere (no inotify, or its watch limit reached) ``open_file_writes``
returns None and the caller polls instead.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import time

__all__ = ["FileWrites", "open_file_writes"]

log = logging.getLogger("burrow_jobs_sql.notify")


class FileWrites:
    """Watches the database's directory (the ``-wal`` file comes and goes with the last
    connection) and keeps the reports that name the database or its journals."""

    def __init__(self, path: str) -> None:
        import inotify_simple  # Linux only

        directory, name = os.path.split(os.path.abspath(path))
        self._names = frozenset({name, f"{name}-wal", f"{name}-journal"})
        flags = inotify_simple.flags
        self._overflow = int(flags.Q_OVERFLOW)
        self._inotify = inotify_simple.INotify()
        try:
            self._inotify.add_watch(directory, flags.MODIFY | flags.CREATE | flags.MOVED_TO)
            self._wake_read, self._wake_write = os.pipe()
        except BaseException:
            self._inotify.close()
            raise
        os.set_blocking(self._wake_read, False)

    def wait(self, timeout: float) -> bool:
        """Block until the database or its journal is written (True), ``timeout`` seconds
        pass or ``interrupt`` is called (False). Reports that arrived earlier count, once."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            watched = [self._inotify.fileno(), self._wake_read]
            ready, _, _ = select.select(watched, [], [], remaining)
            if self._wake_read in ready:
                self._clear_interrupt()
                return False
            if not ready:
                return False
            # Reports about other files in the directory are read and dropped. A full queue
            # (a busy directory) dropped reports, maybe ours: count it as a write.
            events = self._inotify.read(timeout=0)
            if any(e.name in self._names or e.mask & self._overflow for e in events):
                return True

    def interrupt(self) -> None:
        """Make the current or next ``wait`` return at once (from any thread)."""
        os.write(self._wake_write, b"\0")

    def _clear_interrupt(self) -> None:
        try:
            while os.read(self._wake_read, 64):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        self._inotify.close()
        os.close(self._wake_read)
        os.close(self._wake_write)


def open_file_writes(path: str) -> FileWrites | None:
    """A watch of ``path``'s writes, or None where inotify cannot watch it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return FileWrites(path)
    except (ImportError, OSError) as exc:
        # Still correct without it: the watcher polls PRAGMA data_version instead.
        log.info("burrow: no inotify watch of %s (%s); polling for its commits", path, exc)
        return None
